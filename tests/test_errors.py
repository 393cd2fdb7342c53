"""The skip summary groups skips by kind of reason (one short line, whatever the number of clips)."""

from __future__ import annotations

from miex.errors import SkipLog, reason_kind


def test_skip_summary_groups_reasons_without_a_colon():
    log = SkipLog(echo=False)
    for i in range(300):
        log.add(f"/data/CASME2/sub{i % 26:02d}/EP{i:03d}/img1.jpg",
                f"no face found (the reference frame of the clip {i}; cannot crop it)")
        log.add(f"casme2/sub01/EP{i:03d}", f"apex frame {100 + i} not in the AU table (table has frames 1-{i})")
    log.add("index.csv line 3", "unknown label: 'renamed' (use 0/1/2 or an emotion word)")
    summary = log.summary()
    assert summary == ("skipped 601 input(s): 300 apex frame N not in the AU table, 300 no face found, "
                       "1 unknown label")
    assert reason_kind("unusable OpenFace CSV: x.csv: empty file") == "unusable OpenFace CSV"
