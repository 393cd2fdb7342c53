"""Published micro-expression recognition results that reports put a run next to.

The numbers are those collected in design.md section 5. They are *not* all comparable with a
miex run: the composite leaderboard is LOSO over the 68 MEGC2019 subjects; MiE-X Table 1 is
subject-wise 3-fold, 3 repeats. HTNet's number is test-set epoch selected (optimistic), and
several other published codes also pick each fold's best epoch on its test subjects.
Numbers are as collected in design.md section 5; citations name the paper each number comes from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    method: str
    uf1: float          # fraction in [0, 1]
    uar: float | None   # None where the source gives no UAR
    protocol: str       # "LOSO" | "3-fold" | "LOSO, 4 classes" | "CASME II -> SMIC-HS" ...
    citation: str
    optimistic: bool = False   # test-set epoch selection
    note: str = ""
    classes: int = 3    # number of classes of the task


_LOSO = "LOSO (68 subjects)"

#: MEGC2019 composite (CompMiE), LOSO, full composite UF1/UAR.
COMPOSITE_LOSO: tuple[Entry, ...] = (
    Entry("LBP-TOP", 0.588, 0.579, _LOSO, "MEGC2019 baseline; See et al., FG 2019"),
    Entry("Bi-WOOF", 0.630, 0.623, _LOSO, "Liong et al., Signal Process. Image Commun. 2018"),
    Entry("OFF-ApexNet", 0.720, 0.710, _LOSO, "Gan et al., Signal Process. Image Commun. 2019"),
    Entry("CapsuleNet", 0.652, 0.651, _LOSO, "Van Quang et al., FG 2019"),
    Entry("Dual-Inception", 0.732, 0.728, _LOSO, "Zhou et al., FG 2019"),
    Entry("STSTNet", 0.735, 0.761, _LOSO, "Liong et al., FG 2019"),
    Entry("EMR", 0.789, 0.782, _LOSO, "Liu et al., FG 2019 (MEGC2019 winner)"),
    Entry("RCN", 0.743, 0.719, _LOSO, "Xia et al., IEEE TIP 2020"),
    Entry("FeatRef", 0.784, 0.783, _LOSO, "Zhou et al., Pattern Recognition 2022"),
    Entry("HTNet", 0.860, 0.848, _LOSO, "Wang et al., Neurocomputing 2024", optimistic=True,
          note="test-set epoch selection"),
)

_TABLE1 = "Liu et al., MiE-X (ECCV 2022), Table 1"
_TABLE1_NOTE = "mean of 3 runs; the MiE-X code picks epochs on the test subjects, so these may be optimistic"
#: MiE-X paper Table 1: CompMiE, subject-wise 3-fold, Branches, mean of 3 runs.
MIEX_TABLE1: tuple[Entry, ...] = (
    Entry("Branches, real data only", 0.436, 0.446, "3-fold", _TABLE1, note=_TABLE1_NOTE),
    Entry("Branches, MiE-X only", 0.477, 0.489, "3-fold", _TABLE1, note=_TABLE1_NOTE),
    Entry("Branches, MiE-X pre-train + CompMiE fine-tune", 0.507, 0.521, "3-fold", _TABLE1, note=_TABLE1_NOTE),
    Entry("Branches, same + CK+ in fine-tuning", 0.523, 0.523, "3-fold", _TABLE1, note=_TABLE1_NOTE),
)

#: How much test-set epoch selection inflates results (MEB study: STSTNet composite F1).
TEST_SELECTION_EFFECT = {
    "method": "STSTNet",
    "uf1_without_test_selection": 0.713,
    "uf1_test_selected": 0.774,
    "citation": "Varanka et al., MEB (data leakage and evaluation issues in MER), IEEE TAC 2023",
}

PROTOCOL_NOTE = (
    "Published composite numbers are leave-one-subject-out (LOSO, 68 folds); MiE-X Table 1 is "
    "subject-wise 3-fold. k-fold trains on fewer subjects per fold than LOSO and usually scores "
    "lower, so compare a run with the leaderboard only under the same protocol. Several published "
    "codes select each fold's best epoch on its test subjects (marked optimistic); in the MEB study "
    "this raised STSTNet's composite F1 from 0.713 to 0.774."
)


_ISSUE14 = "as cited in miex issue 14 (the paper's figure, not re-checked against the paper by miex)"
#: CAS(ME)^3 Part A (Li et al., TPAMI 2022), published results. Only figures miex could trace are
#: listed; reports show the entries with the run's number of classes.
CASME3_LOSO: tuple[Entry, ...] = (
    Entry("Ra-ICL", 0.7585, None, "CAS(ME)^3 Part A, 3 classes", _ISSUE14, classes=3,
          note="UAR not given in the cited figure"),
    Entry("D-FACE", 0.6807, 0.6469, "CAS(ME)^3 Part A, 4 classes", _ISSUE14, classes=4),
)

#: Cross-dataset MER (train on one dataset, test on another, e.g. CASME II -> SMIC-HS), published
#: results with their protocol. Empty until figures are checked against their papers: the
#: domain-adaptation literature (e.g. TGSR, Jiang et al., ICPR 2022; the CDMER benchmark of Zong
#: et al.) reports them with hand-crafted features and its own class mappings, so each entry must
#: name its source/target sets, classes and metric.
CROSS_DATASET: tuple[Entry, ...] = ()

CASME3_NOTE = (
    "CAS(ME)^3 figures are for Part A under each paper's own protocol and preprocessing; the 3-class "
    "task leaves out 'others', the 4-class task keeps it. Compare a run only with entries of its "
    "number of classes."
)
CROSS_DATASET_NOTE = (
    "Cross-dataset runs train on whole datasets and test on another one: no test subject is seen in "
    "training, and the two datasets differ in cameras, frame rates and annotators, so scores are far "
    "below within-dataset LOSO ones. No published cross-dataset figure has been checked into miex's "
    "leaderboard yet."
)
