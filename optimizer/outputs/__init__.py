"""Layer 4, what a planner reads: the terminal report (``report``), HTML and Markdown reports
(``document``) and pictures (``plots``)."""
