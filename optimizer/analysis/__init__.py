"""Layer 3, analysis built on solving: what-if sweeps and their definitions (``sweeps``,
``scenarios``), Pareto frontiers (``frontier``), what limits a plan (``explain``) and the
calibration against public economics (``calibration``)."""
