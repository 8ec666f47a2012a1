"""Layer 1, the model: the instance file (``schema``), its numbers (``preprocess``), the Pyomo
families of MODEL.md sections 5-7 and 12 (``families``) and the multi-year model of section 11
(``horizon``). Imports nothing above it."""
