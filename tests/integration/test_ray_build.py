"""`spaceqa index --ray`: embedding on a Ray cluster writes the index a local build writes.

The cluster is real and local: a head that only schedules, and two worker nodes of one CPU
each, so the passages are embedded by two model copies in two processes.  60 to 90 seconds
on a busy two-core machine: the nodes starting (15 s), and each pool of workers loading the
model (the long sentence below costs a second pool, about 15 s, for the path it covers).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_corpus
from spaceqa import pipeline
from spaceqa.build import build_index
from spaceqa.config import Settings
from spaceqa.index import load_index

pytestmark = [
    pytest.mark.integration,
    # Ray Data's DataContext sets its own deprecated fields when it is created.
    pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray\.data\.context"),
]

ray = pytest.importorskip("ray", reason="the ray extra is not installed: `make install-ray` or pip install 'spaceqa[ray]'")
# Only once ray is known to be there:
from ray.cluster_utils import Cluster

from spaceqa.distributed import cluster_embedder

OBJECT_STORE_BYTES = 100 * 1024 * 1024  # per node; the vectors of this corpus are kilobytes

# Long sentence: more word pieces than the model reads (256), so no passage shows it whole,
# its span comes back None from the workers and the build embeds it alone, on the cluster too.
LONG_SENTENCE = "The inventory of the keeper's store room listed " + ", ".join(
    f"{count} tins of {item}" for count, item in zip(range(3, 200, 4), ["lamp oil", "biscuits", "tea", "paint", "wick", "rope", "tar", "soap"] * 7)
) + "."

DOCUMENTS = {
    "lighthouse.txt": (
        "Keeping the Harrow Point Light\n\n"
        "The light at Harrow Point was tended by three keepers who took turns through the night. "
        "Each watch lasted four hours, and the keeper on duty wound the clockwork that turned the lens.\n\n"
        "In foggy weather the keepers sounded a horn every thirty seconds. "
        "Ships passing the point answered with two short blasts. "
        "The fog signal was replaced by an electric siren in 1931.\n\n"
        + LONG_SENTENCE
    ),
    "sourdough.txt": (
        "A Slow Loaf\n\n"
        "A sourdough starter is flour and water left to gather wild yeast. "
        "Fed twice a day, it doubles in size within six hours of a feeding.\n\n"
        "The dough rests overnight in a cool room. "
        "Bakers fold it every half hour during the first two hours to build strength. "
        "A loaf baked in a covered pot keeps its steam and grows a thin, crackling crust."
    ),
    "river_town.txt": (
        "Millbrook on the Arden\n\n"
        "Millbrook grew around a grain mill built where the Arden drops over a shelf of limestone. "
        "The mill wheel was eleven metres across and drove four pairs of stones.\n\n"
        "A stone bridge of five arches replaced the ferry in 1788. "
        "The town market is still held on Thursdays beside the bridge. "
        "Floods reached the market square in 1852, 1947 and 2007."
    ),
    "bicycle.txt": (
        "Looking After a Bicycle Chain\n\n"
        "A chain wears as its pins and rollers grind against each other. "
        "Once it has stretched by half a percent it starts to wear the cogs as well.\n\n"
        "Clean the chain with a rag before oiling it, then put one drop on every roller. "
        "Wipe off what is left on the outside, since oil there only gathers grit."
    ),
    "comets.txt": (
        "Watching a Comet\n\n"
        "A comet brightens as it nears the Sun and its ice turns to gas. "
        "The dust tail curves gently, while the ion tail points straight away from the Sun.\n\n"
        "Binoculars show more than a telescope for a bright comet, because the tail spans several degrees. "
        "The best views come before dawn, away from street lights."
    ),
}


@pytest.fixture
def ray_cluster():
    """Three Ray nodes on this machine: a head with no CPU, and two one-CPU worker nodes."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_BYTES)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()  # the connection the build made from this process, if it got that far
        cluster.shutdown()


class NameAndDimensionOnly:
    """The local embedder as the driver of a cluster build may use it: for its name and dimension, never to embed."""

    def __init__(self, embedder) -> None:
        self.name, self.dimension = embedder.name, embedder.dimension

    def embed(self, *args, **kwargs):
        raise AssertionError("the driver embedded locally")

    embed_with_spans = embed


def records(table) -> list:
    return [table[i] for i in range(len(table))]


def test_a_build_on_the_cluster_is_the_local_build(tmp_path, ray_cluster):
    corpus = write_corpus(tmp_path / "corpus", DOCUMENTS)
    settings = Settings(corpus_dir=corpus)
    local_embedder = pipeline.load_embedder(settings)  # whatever this machine embeds with, the workers build the same
    build_index(corpus, tmp_path / "local", local_embedder, settings.chunk_params)
    on_cluster = cluster_embedder(ray_cluster.address, settings, local=NameAndDimensionOnly(local_embedder))
    report = build_index(corpus, tmp_path / "ray", on_cluster, settings.chunk_params)
    assert report.documents == len(DOCUMENTS) and report.embedded_chunks == report.chunks

    here, there = load_index(tmp_path / "local"), load_index(tmp_path / "ray")
    assert there.manifest.model == here.manifest.model == local_embedder.name  # serves with the local model
    assert list(there.documents) == list(here.documents) and set(here.documents) == set(DOCUMENTS)
    assert records(there.sentences) == records(here.sentences)
    assert records(there.chunks) == records(here.chunks)
    np.testing.assert_allclose(there.chunk_vectors, here.chunk_vectors, atol=1e-5)
    np.testing.assert_allclose(there.sentence_vectors, here.sentence_vectors, atol=1e-5)
    long_sentence = next(s for s in records(there.sentences) if there.sentence_text(s.sentence_id) == LONG_SENTENCE)
    assert np.linalg.norm(there.sentence_vectors[long_sentence.sentence_id]) == pytest.approx(1.0, abs=1e-5)  # embedded alone, not left zero
