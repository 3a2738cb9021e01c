"""Browser tests: the chat page in Chromium. A package, so its conftest is not "conftest",
the name tests/conftest.py is imported by."""
