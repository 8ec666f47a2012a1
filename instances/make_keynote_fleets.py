"""Regenerate the keynote fleets, brownfield and uncertain files from gtc2026-1gw.yaml (from the repo root).

The fleets share every number with the reference instance; tests/test_instances.py checks it.
"""
import re
src = open('instances/gtc2026-1gw.yaml').read()
facility_to_tiers = src[src.index("facility:"):src.index("tiers:\n")]
hw_start = src.index("hardware:\n")
net_start = src.index("network:\n")
hw_text = src[hw_start + len("hardware:\n"):net_start]
blocks = re.split(r"(?m)^(?=  - name: )", hw_text)
blocks = {re.match(r"  - name: (\S+)", b).group(1): b for b in blocks if b.strip()}
network = src[net_start:]
fleets = {
    "blackwell": (["gb300-nvl72"], "Grace Blackwell (GB300 NVL72)"),
    "rubin": (["vr-nvl72"], "Vera Rubin (VR NVL72)"),
    "rubin-lpx": (["vr-nvl72", "lpx"], "Vera Rubin NVL72 with Groq 3 LPX decode racks"),
}
tiers = '''tiers:
  # The GTC 2026 ladder and interactivity floors of gtc2026-1gw.yaml (see its comments). The
  # keynote's example sells everything it makes at these prices: no demand caps or floors here.
  # Its four tiers are free / mid / high / premium (DATA.md 1); assumption: mid = $6, high = $45,
  # premium = $150; the $3 tier is not in the example and gets no power.
  - {name: free, workload: chat, min_interactivity: 20, price_usd_per_mtok: 0.0}
  - {name: standard, workload: long-context, min_interactivity: 100, price_usd_per_mtok: 3.0}
  - {name: pro, workload: long-context, min_interactivity: 240, price_usd_per_mtok: 6.0}
  - {name: premium, workload: long-context, min_interactivity: 260, price_usd_per_mtok: 45.0}
  - {name: ultra, workload: long-context, min_interactivity: 280, price_usd_per_mtok: 150.0}

'''
constraints = '''
constraints:
  # The keynote's split: 25% of the power to each of the example's four tiers (DATA.md 1),
  # as shares of the power of all allocated rack-equivalents (MODEL.md 6.14).
  tier_power_share:
    free: {min: 0.25, max: 0.25}
    standard: {min: 0.0, max: 0.0}
    pro: {min: 0.25, max: 0.25}
    premium: {min: 0.25, max: 0.25}
    ultra: {min: 0.25, max: 0.25}
'''
for key, (names, label) in fleets.items():
    text = f'''# The GTC 2026 keynote's revenue example for one fleet: {label} on the 1 GW site of
# gtc2026-1gw.yaml, with 25% of the power given to each tier of the example (DATA.md 1).
# Facility, models, workloads, hardware and network are those of gtc2026-1gw.yaml, number for
# number, with their sources (tests/test_instances.py checks that they stay equal).
# docs/calibration.md compares the three fleets against the keynote's 1 : 5 : 10.
name: gtc2026-1gw-{key}
description: >
  1 GW, keynote revenue example: {label}, 25% of the power per tier (free, $6, $45, $150).
objective: revenue

{facility_to_tiers}{tiers}hardware:
{"".join(blocks[n] for n in names).rstrip()}

{network.rstrip()}
{constraints}'''
    open(f"instances/gtc2026-1gw-{key}.yaml", "w").write(text)

# The brownfield case: the reference site with an installed GB300 fleet that new VR and LPX
# racks compete with for the remaining power.
INSTALLED = 2500
brown = src.replace(
    "name: gtc2026-1gw\n",
    "name: gtc2026-1gw-brownfield\n",
).replace(
    src[: src.index("name: gtc2026-1gw\n")],
    f"""# Brownfield: the 1 GW site of gtc2026-1gw.yaml (every number and source as there) with
# {INSTALLED:,} GB300 NVL72 racks already installed and running (assumption: a first phase built in
# 2025, about a third of the site's power). Installed racks carry no capex and may not be removed
# (MODEL.md 6.1); new GB300 racks are no longer sold (assumption: max_racks = installed).
# New Vera Rubin and LPX racks compete for the remaining power and slots.
""",
).replace(
    "    capex_usd: 4.0e6                  # ~$4M per rack, Morgan Stanley (DATA.md 2)\n",
    "    capex_usd: 4.0e6                  # ~$4M per rack, Morgan Stanley (DATA.md 2)\n"
    f"    installed_racks: {INSTALLED}            # assumption: the installed first phase (see the header)\n"
    f"    max_racks: {INSTALLED}                  # assumption: GB300 is no longer bought\n",
    ).replace(
    src[src.index("description: >"):src.index("objective:")],
    "description: >\n  Brownfield 1 GW site: 2,500 GB300 NVL72 racks installed; new Vera Rubin NVL72 and\n  Groq 3 LPX racks compete for the remaining power.\n",
)
open("instances/gtc2026-1gw-brownfield.yaml", "w").write(brown)

# The uncertain case: the reference instance with its own header and `uncertainty` block kept.
path = "instances/gtc2026-1gw-uncertain.yaml"
old = open(path).read()
body = src[src.index("name: gtc2026-1gw\n"):].replace("name: gtc2026-1gw\n", "name: gtc2026-1gw-uncertain\n", 1)
open(path, "w").write(old[:old.index("name: gtc2026-1gw-uncertain")] + body.rstrip() + "\n" + old[old.index("\nuncertainty:"):])
