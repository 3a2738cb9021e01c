"""The small corpus the browser tests ask about: short space-history documents, one long
enough that its cited sentence sits below the fold, one id with a folder in it, and one
document that quotes HTML that would run script if a page ever inserted it as markup, and a
PDF whose answer lies on its second page."""

from __future__ import annotations

from pdfs import make_pdf

MIR_PARAGRAPHS = [
    "The Shuttle-Mir Program was a collaborative space program between Russia and the United States "
    "that ran from 1994 to 1998. It involved American Space Shuttles visiting the Russian space station "
    "Mir, Russian cosmonauts flying on the Shuttle, and American astronauts flying aboard Soyuz spacecraft.",
    "The program was announced in 1992, when the two countries agreed to cooperate after the end of the "
    "Cold War. Its aim was to let each side learn from the other's experience with long flights, and to "
    "prepare for the construction of a larger international station later in the decade.",
    "Mir itself was assembled in orbit from 1986 to 1996. Its base block was joined over the years by the "
    "Kvant-1, Kvant-2, Kristall, Spektr and Priroda modules, together with a docking module built for "
    "visits by the Space Shuttle.",
    "Life aboard the station was demanding. Crews exercised for hours every day to slow the loss of bone "
    "and muscle, repaired ageing equipment, and ran experiments in materials science, biology and "
    "Earth observation.",
    "Sergei Krikalev became the first Russian cosmonaut to fly aboard an American Space Shuttle in "
    "February 1994, on the STS-60 mission. A year later, STS-63 flew Discovery close to Mir in a "
    "rehearsal for the docking flights that followed.",
    "In March 1995, Norman Thagard became the first American to live on the Mir station, "
    "where he spent 115 days with his Russian counterparts. He launched on Soyuz TM-21 from the "
    "Baikonur Cosmodrome and returned to Earth aboard the Shuttle Atlantis.",
    "In all, seven American astronauts lived aboard Mir, and the Shuttle docked with the station eleven "
    "times. The lessons of those years, from crew training to joint operations, shaped how the "
    "International Space Station was built and run.",
]

BROWSER_DOCUMENTS = {
    "shuttle-mir.txt": "The Shuttle-Mir Program\n\n" + "\n\n".join(MIR_PARAGRAPHS),
    "apollo-soyuz.txt": (
        "The Apollo-Soyuz Test Project\n\n"
        "The Apollo-Soyuz Test Project was the first crewed international space mission. "
        "Soyuz-19 launched on July 15, 1975 from the Baikonur Cosmodrome, and the Apollo spacecraft "
        "followed seven and a half hours later from the Kennedy Space Center. "
        "The two spacecraft docked in orbit on July 17, 1975, and the crews shared meals and experiments "
        "for nearly two days."
    ),
    "earth/geoss.txt": (
        "Earth Observation Partnerships\n\n"
        "GEOSS stands for the Global Earth Observation System of Systems. "
        "It links satellites, ground stations and ocean buoys run by more than a hundred governments, "
        "so that their data can be shared for weather, climate and disaster response."
    ),
    "archive/vostok-markup.txt": (
        "Vostok Archive Notes\n\n"
        "This archived page about the Vostok programme kept some raw markup from its old website. "
        "The first fragment read <script>window.__pwned = 1</script> in full. "
        'The second fragment read <img src=x onerror="window.__pwned = 1"> in full. '
        "Vostok 1 carried the cosmonaut Yuri Gagarin into orbit on April 12, 1961."
    ),
}

# A citation from a PDF names its page.
BROWSER_PDFS = {
    "station-systems.pdf": make_pdf(
        [
            "Station Life Support. This report describes how the crew of an orbital station is kept alive.",
            "The oxygen generator aboard the station was called Elektron, and it split water into oxygen and hydrogen.",
        ],
        title="Station Life Support",
    ),
}
