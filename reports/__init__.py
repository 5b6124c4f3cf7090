"""The documents a 政务公开办 sends out (通报 as .docx and HTML) and the 台账 it reads back in.

- :mod:`reports.tongbao` — the 通报 from a :class:`~reports.tongbao.TongbaoData` (pure: no DB).
- :mod:`reports.collect` — :func:`~reports.collect.tongbao_data` reads the period's facts.
- :mod:`reports.taizhang` — reads a coordinator's 台账 spreadsheet into rows (pure: no DB).
- :mod:`reports.completions` — records those rows as completions, row by row.

The .xlsx 评分表 is :func:`scoring.export.export_scorecard_xlsx`; nothing here duplicates it.
"""
