"""Regenerate instances/gtc2026-1gw-year.yaml from gtc2026-1gw.yaml (run from the repository root).

The reference site, racks and fabric with a year of slices, a public-price market and its
sensitivity ranges; tests/test_instances.py checks that the two stay consistent.
"""
ref = open('instances/gtc2026-1gw.yaml').read()
S = ["summer-peak", "summer-day", "summer-night", "summer-weekend", "winter-peak", "winter-day", "winter-night", "winter-weekend"]
HOURS = [786, 1310, 1048, 1272, 780, 1300, 1040, 1224]
assert sum(HOURS) == 8760
def smap(vals):
    return "{" + ", ".join(f"{s}: {v}" for s, v in zip(S, vals)) + "}"
def shape(peak, shp):
    return smap([f"{peak * m:.4g}" for m in shp * 2])
CONV = [1.0, 0.75, 0.5, 0.41]   # conversation: peak / rest of the weekday / night / weekend
CODE = [1.0, 0.55, 0.1, 0.16]  # coding: the same
PRICE = [123, 90, 57, 65]
fac = ref[ref.index("facility:"):ref.index("models:")]
fac = fac.replace(
    "  liquid_cooling_overhead: 0.05       # assumption: 45 C warm-water, chiller-less loops for VR (DATA.md 2, VR NVL72 cooling); with losses this gives PUE ~1.07-1.1, cf. SemiAnalysis PUE 1.1 for NVL72 (DATA.md 5)\n"
    "  air_cooling_overhead: 0.3           # SemiAnalysis PUE default 1.3 for air-cooled HGX (DATA.md 5): 0.3 MW of cooling power per MW of heat\n"
    "  electricity_usd_per_mwh: 81         # US industrial average 8.06 c/kWh, 2023 (EIA, DATA.md 5)\n",
    "  # Cooling by season. gtc2026-1gw.yaml's 0.05 (liquid) and 0.3 (air) are the year's means;\n"
    "  # the winter-to-summer swing is Google's fleet PUE, +0.04 from Q4 to Q2 (1.16 -> 1.20; best\n"
    "  # site 1.11 -> 1.15; docs/public-figures.md 5). assumption: the same +-0.02 about the mean for\n"
    "  # warm-water loops (NREL's chiller-less ESIF: 1.036 for the year, ibid.) and +-0.05 for air.\n"
    f"  liquid_cooling_overhead: {smap([0.07] * 4 + [0.03] * 4)}\n"
    f"  air_cooling_overhead: {smap([0.35] * 4 + [0.25] * 4)}\n"
    "  # assumption: a time-of-use shape on the US industrial mean of $81/MWh (EIA, DATA.md 5): peak 1.5x,\n"
    "  # rest of the weekday 1.1x, night 0.7x, weekend 0.8x, hours-weighted mean $80.9/MWh. Public\n"
    "  # tariffs swing more (a utility's on/off-peak 19.1 vs 6.6 c/kWh; ERCOT hours from $4.50 to\n"
    "  # >$4,000/MWh, docs/public-figures.md 6); a large load on contract sees less.\n"
    f"  electricity_usd_per_mwh: {smap(PRICE * 2)}\n")
models = ref[ref.index("models:"):ref.index("workloads:")]
hw = ref[ref.index("hardware:"):ref.index("network:")]
for name in ("gb300-nvl72", "vr-nvl72", "lpx"):
    anchor = f"  - name: {name}\n"
    i = hw.index(anchor)
    j = hw.index("    liquid_cooled_fraction:", i)
    hw = hw[:j] + ("    idle_power_fraction: 0.4          # a B200 at concurrency 1 draws ~385-390 W of its 1,000 W (InferenceX powerx.csv, docs/public-figures.md 4): 0.39; the rack's fixed ~7 kW of trays and switches sits inside that\n"
                   if name != "lpx" else
                   "    idle_power_fraction: 0.4          # assumption: as the GPU racks (no LPX power figure is public, DATA.md 7); an idle LPU keeps its SRAM full of weights\n") + hw[j:]
hw = hw.replace("sensitivity blocks of gtc2026-1gw-year.yaml and the roadmap span the rest",
                "sensitivity block below spans the rest")  # this file's own block
net = ref[ref.index("network:"):]
tiers = f'''tiers:
  # A market a planner can price against public sheets (docs/public-figures.md 2), beside the
  # keynote's two fast tiers. Output / input (prefix-cache miss) / cached input, USD per 1M tokens.
  # Demand by slice (assumption for the level, public data for the shape): the Azure LLM
  # inference traces of May 2024 (docs/public-figures.md 1a) give weekday peak-to-trough ratios
  # of 2.0 (conversation) and 10.0 (coding), and weekends 43% (conversation) and 68% (coding)
  # below the weekday mean. derived: weekday peak / rest of the day / night / weekend of
  # 1 / 0.75 / 0.5 / 0.41 for conversation and 1 / 0.55 / 0.1 / 0.16 for coding (the weekend
  # level is 0.57 and 0.32 of the weekday's hours-weighted mean, 0.729 and 0.5125). The same in
  # both seasons (assumption: no public seasonal demand figure).
  # Free chat: a commitment, served exactly (floor = cap), with the conversation shape.
  - name: free
    workload: chat
    min_interactivity: 20             # assumption: as gtc2026-1gw.yaml
    price_usd_per_mtok: 0.0           # the free tier of the GTC 2026 ladder (DATA.md 1)
    min_tokens_per_s: {shape(2.0e8, CONV)}   # assumption: gtc2026-1gw.yaml's 2e8 at the peak, conversation shape
    max_tokens_per_s: {shape(2.0e8, CONV)}   # assumption: as min_tokens_per_s
  # The served model's own first-party price in 2026, at DeepSeek's measured speed:
  # DeepSeek-V3.2, 0.42 output / 0.28 input / 0.028 cached (docs/public-figures.md 2a, 7b);
  # 20-22 tok/s/user on average (DeepSeek day-6, docs/public-figures.md 1b). R1's 2025 list,
  # 2.19 / 0.55 / 0.14, is the high end of the sensitivity block below.
  - name: standard
    workload: long-context
    min_interactivity: 20             # DeepSeek's measured 20-22 tok/s/user (docs/public-figures.md 1b)
    price_usd_per_mtok: 0.42          # DeepSeek-V3.2 output (docs/public-figures.md 2a, 7b)
    input_price_usd_per_mtok: 0.28    # DeepSeek-V3.2 input, cache miss (docs/public-figures.md 2a, 7b)
    cached_input_price_usd_per_mtok: 0.028  # DeepSeek-V3.2 input, cache hit (docs/public-figures.md 2a, 7b)
    max_tokens_per_s: {shape(1.0e9, CONV)}   # assumption: 1e9 at the peak (gtc2026-1gw.yaml's $3 cap), conversation shape
  # Batch: the same tokens at half price, done whenever capacity is idle (OpenAI, Anthropic,
  # Google and Together all take 50% off for results within 24 h, docs/public-figures.md 2b).
  - name: batch
    workload: long-context
    min_interactivity: 20             # as standard (docs/public-figures.md 1b)
    price_usd_per_mtok: 0.21          # derived: 50% of standard (batch discount, docs/public-figures.md 2b)
    input_price_usd_per_mtok: 0.14    # derived: 50% of standard
    cached_input_price_usd_per_mtok: 0.014  # derived: 50% of standard
    max_tokens_per_s: 3.0e8           # assumption: the year's mean; a third of standard's peak
    shiftable: true                   # batch work waits for idle hours (MODEL.md 12.1)
  # A fast R1 tier at public prices: Fireworks' DeepSeek-R1-0528 serverless 3.00 in / 8.00 out
  # (docs/public-figures.md 2c), no cache discount listed, so cached input is billed as input.
  - name: pro
    workload: long-context
    min_interactivity: 100            # the conversational anchor, ~100 tok/s/user (DATA.md 1)
    price_usd_per_mtok: 8.0           # Fireworks DeepSeek-R1-0528 output (docs/public-figures.md 2c)
    input_price_usd_per_mtok: 3.0     # Fireworks DeepSeek-R1-0528 input (docs/public-figures.md 2c)
    max_tokens_per_s: {shape(5.0e7, CODE)}   # assumption: 5e7 at the peak, coding shape
  # The keynote's $45 and $150 tiers (DATA.md 1) at the calibrated floors of gtc2026-1gw.yaml;
  # input and cached input at Anthropic Claude Opus 4's ratios, 15 / 1.50 of 75 (0.2 and 0.02
  # of the output price, docs/public-figures.md 2b): frontier prices bill input too.
  - name: premium
    workload: long-context
    min_interactivity: 260            # derived: gtc2026-1gw.yaml's calibrated floor
    price_usd_per_mtok: 45.0          # the GTC 2026 ladder (DATA.md 1)
    input_price_usd_per_mtok: 9.0     # derived: 0.2 x 45 (Claude Opus 4's ratio, docs/public-figures.md 2b)
    cached_input_price_usd_per_mtok: 0.9   # derived: 0.02 x 45 (ibid.)
    max_tokens_per_s: {shape(1.0e7, CODE)}   # assumption: 1e7 at the peak, coding shape
  - name: ultra
    workload: long-context
    min_interactivity: 280            # derived: gtc2026-1gw.yaml's calibrated floor
    price_usd_per_mtok: 150.0         # the GTC 2026 ladder (DATA.md 1)
    input_price_usd_per_mtok: 30.0    # derived: 0.2 x 150 (Claude Opus 4's ratio, docs/public-figures.md 2b)
    cached_input_price_usd_per_mtok: 3.0   # derived: 0.02 x 150 (ibid.)
    max_tokens_per_s: {shape(2.0e6, CODE)}   # assumption: 2e6 at the peak, coding shape

'''
workloads = '''workloads:
  # InferenceMAX shapes as in gtc2026-1gw.yaml (DATA.md 6). Prefix-cache hits need no prefill:
  # DeepSeek's whole service hit its on-disk KV cache for 56.3% of input tokens (day-6,
  # docs/public-figures.md 3), the long-context proxy; an ideal cache over Kimi's public
  # conversation trace reuses 36.6% of prompt blocks (Mooncake, ibid.), the chat proxy.
  - {name: chat, model: frontier-moe, input_tokens_per_output_token: 1.0, cached_input_fraction: 0.366}  # docs/public-figures.md 3
  - {name: long-context, model: frontier-moe, input_tokens_per_output_token: 8.0, cached_input_fraction: 0.563}  # docs/public-figures.md 3

'''
slices = "slices:\n  # A year of two seasons (summer May-Oct, 184 days: 131 weekdays and 53 weekend days; winter\n  # Nov-Apr, 181: 130 and 51) and four times of the week. derived: peak is 6 weekday hours\n  # (14:00-20:00 UTC, where both Azure traces peak, docs/public-figures.md 1a), day the other 10\n  # waking hours, night 8 hours, weekend all 48: 6 x 131 = 786 h ... 24 x 51 = 1,224 h.\n" + \
    "".join(f"  - {{name: {s}, hours: {h}}}\n" for s, h in zip(S, HOURS)) + "\n"
def sens_slice(path, vals_lo, vals_hi):
    lo = ", ".join(f'"{path}.{s}": {v:.4g}' for s, v in zip(S, vals_lo))
    hi = ", ".join(f'"{path}.{s}": {v:.4g}' for s, v in zip(S, vals_hi))
    return lo, hi
elo, ehi = sens_slice("facility.electricity_usd_per_mwh", [p * 70 / 81 for p in PRICE * 2], [p * 200 / 81 for p in PRICE * 2])
plo, phi = sens_slice("tiers[premium].max_tokens_per_s", [1e7 * 0.3 * m for m in CODE * 2], [1e7 * 3 * m for m in CODE * 2])
sens = f'''
sensitivity:
  # The inputs a planner cannot pin down, each from the low to the high end of its public range
  # (optimizer sensitivity instances/gtc2026-1gw-year.yaml; docs/sensitivity.md).
  - name: vr-throughput
    source: "x1 (HBM bandwidth, 2.75x GB300) to x1.82 (NVIDIA's up to 5x per GPU): DATA.md 1 and 2"
    low: {{"hardware[vr-nvl72].performance_multiplier": 1.0}}
    high: {{"hardware[vr-nvl72].performance_multiplier": 1.82}}
  - name: lpx-decode
    source: "assumption: x0.5 (a 1T model or longer contexts leave less SRAM for KV cache) to x2 (attention and KV cache left on Vera Rubin's HBM), DATA.md 6"
    low: {{"hardware[lpx].performance_multiplier": 0.5}}
    high: {{"hardware[lpx].performance_multiplier": 2.0}}
  - name: standard-price
    source: "DeepSeek-V4-Flash 0.28 / 0.14 / 0.0028 to DeepSeek-R1's 2025 list 2.19 / 0.55 / 0.14 USD per 1M tokens: docs/public-figures.md 2a"
    low: {{"tiers[standard].price_usd_per_mtok": 0.28, "tiers[standard].input_price_usd_per_mtok": 0.14, "tiers[standard].cached_input_price_usd_per_mtok": 0.0028}}
    high: {{"tiers[standard].price_usd_per_mtok": 2.19, "tiers[standard].input_price_usd_per_mtok": 0.55, "tiers[standard].cached_input_price_usd_per_mtok": 0.14}}
  - name: premium-demand
    source: "assumption: x0.3 to x3 of the premium tier's demand in every slice"
    low: {{{plo}}}
    high: {{{phi}}}
  - name: batch-demand
    source: "assumption: a mean of 1e8 to 6e8 tokens/s of batch work"
    low: {{"tiers[batch].max_tokens_per_s": 1.0e8}}
    high: {{"tiers[batch].max_tokens_per_s": 6.0e8}}
  - name: electricity
    source: "US industrial prices from 7 to 20 c/kWh by state (EIA, DATA.md 5), the same time-of-use shape"
    low: {{{elo}}}
    high: {{{ehi}}}
  - name: idle-power
    source: "0.25 (power-capped idle) to 0.75 (a DGX H100's typical 6.5-8.5 of 10.2 kW): docs/public-figures.md 4"
    low: {{"hardware[gb300-nvl72].idle_power_fraction": 0.25, "hardware[vr-nvl72].idle_power_fraction": 0.25, "hardware[lpx].idle_power_fraction": 0.25}}
    high: {{"hardware[gb300-nvl72].idle_power_fraction": 0.75, "hardware[vr-nvl72].idle_power_fraction": 0.75, "hardware[lpx].idle_power_fraction": 0.75}}
  - name: cache-hit-rate
    source: "36.6% (Kimi's conversation trace) to 80% (multi-round chat with a full cache): docs/public-figures.md 3"
    low: {{"workloads[long-context].cached_input_fraction": 0.366}}
    high: {{"workloads[long-context].cached_input_fraction": 0.8}}
  - name: vr-rack-power
    source: "190 (Max-Q) to 230 kW (Max-P): DATA.md 2"
    low: {{"hardware[vr-nvl72].rack_power_kw": 190}}
    high: {{"hardware[vr-nvl72].rack_power_kw": 230}}
  - name: lpx-rack-power
    source: "assumption: 100 to 250 kW (no LPX power figure is public, DATA.md 7)"
    low: {{"hardware[lpx].rack_power_kw": 100}}
    high: {{"hardware[lpx].rack_power_kw": 250}}
'''
head = '''# A year at the 1 GW site of gtc2026-1gw.yaml: the same grid, halls, racks on offer (with the
# same curves and sources) and fabric, sold over a year of slices (MODEL.md section 12) to a
# market priced from public API sheets. Demand follows the Azure LLM inference traces' day and
# week; batch work waits for the idle hours; racks that serve nothing draw less; prefix-cache
# hits need no prefill; cooling costs more in summer. Every number cites DATA.md or
# docs/public-figures.md, or is marked assumption or derived (tests/test_instances.py checks it,
# and that the site, hardware curves and network equal gtc2026-1gw.yaml's).
name: gtc2026-1gw-year
description: >
  1 GW site over a year of eight slices (summer and winter; weekday peak, day, night, weekend):
  public API prices, demand shapes from the Azure traces, a shiftable batch tier, idle power,
  prefix caching and seasonal cooling.
objective: profit

'''
open('instances/gtc2026-1gw-year.yaml', 'w').write(head + slices + fac + models + workloads + tiers + hw + net.rstrip() + "\n" + sens)
