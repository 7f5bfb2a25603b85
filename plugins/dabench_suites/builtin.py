"""The named suites of DESIGN.md section 6."""

from __future__ import annotations

import dabench
from dabench.host.registry import Suite

CDFER_TARGETS = ("ckplus", "jaffe", "sfew", "fer2013", "expw")

SUITES = (
    Suite("synthetic", ("synth-lab:synth-wild", "synth-wild:synth-lab"), "the generated domains, both ways"),
    Suite("offline", ("fer2013:ckplus", "ckplus:fer2013"), "the real data shipped for tests (../shared/data)"),
    Suite("wild", ("expw:fer2013", "fer2013:expw"),
          "real in-the-wild pairs of the CluP paper's shape: an in-the-wild source to FER2013, and FER2013 to ExpW"),
    Suite("paper", ("afe:expw", "afe:fer2013", "rafdb:expw", "rafdb:fer2013"), "the four setups of the CluP paper"),
    Suite("cdfer", tuple(f"{src}:{tgt}" for src in ("rafdb", "afe") for tgt in CDFER_TARGETS),
          "the CD-FER benchmark's protocol (Chen et al., TPAMI 2022)"),
)


@dabench.hookimpl
def register_suites(register) -> None:
    for suite in SUITES:
        register(suite)
