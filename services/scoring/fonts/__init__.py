"""The Chinese font the reports embed (Hotline Sans SC, a GB2312 cut of Noto Sans CJK SC; SIL OFL 1.1)."""
