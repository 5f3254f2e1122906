"""The shipped framework library: every file parses, is complete and matches the published structure.

These checks read the YAML files directly (plain PyYAML), so a typo in a ref, a lost subcategory or a
mapping to a requirement that does not exist fails here before the loader ever sees the file. The
expected counts are those of the published texts (CSWP 29, NIST AI 100-1, ISO/IEC 42001:2023 Annex A,
AICPA TSC 2017, Regulation (EU) 2024/1689).
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

LIBRARY = Path(__file__).resolve().parents[2] / "app" / "compliance" / "frameworks"
FRAMEWORKS = {
    "eu-ai-act-2024.yaml": "eu-ai-act-2024",
    "nist-ai-rmf-1.0.yaml": "nist-ai-rmf-1.0",
    "nist-csf-2.0.yaml": "nist-csf-2.0",
    "iso-42001-2023.yaml": "iso-42001-2023",
    "soc2-2017.yaml": "soc2-2017",
}
REQUIRED = ("key", "name", "short_name", "version", "published", "source", "licence", "description", "requirements")
NODE_FIELDS = {"ref", "title", "kind", "description", "children"}


def _load(name: str) -> dict:
    return yaml.safe_load((LIBRARY / name).read_text(encoding="utf-8"))


def _walk(nodes: list[dict], depth: int = 0, parent: dict | None = None):
    """Yield (node, depth, parent) for the whole tree in document order."""
    for node in nodes:
        yield node, depth, parent
        yield from _walk(node.get("children") or [], depth + 1, node)


def _leaves(nodes: list[dict]) -> list[str]:
    return [node["ref"] for node, _, _ in _walk(nodes) if not node.get("children")]


def _by_ref(doc: dict) -> dict[str, dict]:
    return {node["ref"]: node for node, _, _ in _walk(doc["requirements"])}


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    return {key: _load(name) for name, key in FRAMEWORKS.items()}


@pytest.fixture(scope="module")
def controls() -> dict:
    return _load("controls.yaml")


def test_the_library_holds_exactly_the_expected_files():
    assert sorted(p.name for p in LIBRARY.glob("*.y*ml")) == sorted([*FRAMEWORKS, "controls.yaml"])


@pytest.mark.parametrize(("name", "key"), FRAMEWORKS.items())
def test_framework_file_has_its_metadata(name, key):
    doc = _load(name)
    missing = [field for field in REQUIRED if field not in doc]
    assert not missing, f"{name} lacks {missing}"
    assert doc["key"] == key
    for field in ("name", "short_name", "version", "source", "licence", "description"):
        assert isinstance(doc[field], str) and doc[field].strip(), f"{name}: {field} must be non-empty text"
    assert isinstance(doc["published"], datetime.date), f"{name}: published must be a YYYY-MM-DD date"
    assert doc["requirements"], f"{name} has no requirements"


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_every_node_is_well_formed_and_refs_are_unique(name):
    doc = _load(name)
    refs = Counter()
    for node, _, _ in _walk(doc["requirements"]):
        assert set(node) <= NODE_FIELDS, f"{name}: {node.get('ref')} has unknown fields {set(node) - NODE_FIELDS}"
        ref = node.get("ref")
        assert isinstance(ref, str) and ref.strip() == ref and ref, f"{name}: bad ref {ref!r}"
        refs[ref] += 1
        assert isinstance(node.get("title"), str) and node["title"].strip(), f"{name}: {ref} has no title"
        assert len(node["title"]) <= 120, f"{name}: {ref} title is not short"
        assert isinstance(node.get("kind"), str) and node["kind"].strip(), f"{name}: {ref} has no kind"
        if "children" in node:
            assert node["children"], f"{name}: {ref} has an empty children list"
        if "description" in node:
            assert isinstance(node["description"], str) and node["description"].strip()
    duplicates = [ref for ref, count in refs.items() if count > 1]
    assert not duplicates, f"{name}: duplicate refs {duplicates}"


# --- NIST CSF 2.0: 6 functions, 22 categories, 106 subcategories ----------------------------------

CSF_CATEGORIES = {
    "GV": {"GV.OC": 5, "GV.RM": 7, "GV.RR": 4, "GV.PO": 2, "GV.OV": 3, "GV.SC": 10},
    "ID": {"ID.AM": 7, "ID.RA": 10, "ID.IM": 4},
    "PR": {"PR.AA": 6, "PR.AT": 2, "PR.DS": 4, "PR.PS": 6, "PR.IR": 4},
    "DE": {"DE.CM": 5, "DE.AE": 6},
    "RS": {"RS.MA": 5, "RS.AN": 4, "RS.CO": 2, "RS.MI": 2},
    "RC": {"RC.RP": 6, "RC.CO": 2},
}


def test_csf_matches_the_published_core(docs):
    tree = docs["nist-csf-2.0"]["requirements"]
    assert [f["ref"] for f in tree] == list(CSF_CATEGORIES)
    assert [f["title"] for f in tree] == ["Govern", "Identify", "Protect", "Detect", "Respond", "Recover"]
    actual = {f["ref"]: {c["ref"]: len(c["children"]) for c in f["children"]} for f in tree}
    assert actual == CSF_CATEGORIES
    assert sum(len(cats) for cats in actual.values()) == 22
    subcategories = _leaves(tree)
    assert len(subcategories) == 106
    for function in tree:
        for category in function["children"]:
            for sub in category["children"]:
                assert re.fullmatch(rf"{re.escape(category['ref'])}-\d\d", sub["ref"]), sub["ref"]
                assert sub["kind"] == "subcategory" and sub.get("description"), sub["ref"]
    # CSF 2.0 kept the 1.1 numbers and left gaps where outcomes moved; spot-check a few of them.
    assert {"ID.AM-07", "ID.AM-08", "PR.DS-10", "PR.DS-11", "DE.CM-09", "RS.AN-08", "RC.CO-04"} <= set(subcategories)
    assert not {"ID.AM-06", "PR.DS-03", "DE.CM-04", "RS.CO-01", "RC.CO-01"} & set(subcategories)


# --- NIST AI RMF 1.0: 4 functions, 19 categories, 72 subcategories -------------------------------

RMF_CATEGORIES = {
    "GOVERN": [7, 3, 2, 3, 2, 2],
    "MAP": [6, 3, 5, 2, 2],
    "MEASURE": [3, 13, 3, 3],
    "MANAGE": [4, 4, 2, 3],
}


def test_ai_rmf_matches_the_published_core(docs):
    tree = docs["nist-ai-rmf-1.0"]["requirements"]
    assert [f["ref"] for f in tree] == list(RMF_CATEGORIES)
    for function in tree:
        expected = RMF_CATEGORIES[function["ref"]]
        assert [len(c["children"]) for c in function["children"]] == expected, function["ref"]
        for number, category in enumerate(function["children"], start=1):
            assert category["ref"] == f"{function['ref']} {number}"
            subs = [s["ref"] for s in category["children"]]
            assert subs == [f"{category['ref']}.{n}" for n in range(1, len(subs) + 1)]
            assert all(s["kind"] == "subcategory" and s.get("description") for s in category["children"])
    per_function = {f["ref"]: len(_leaves(f["children"])) for f in tree}
    assert per_function == {"GOVERN": 19, "MAP": 18, "MEASURE": 22, "MANAGE": 13}
    assert sum(len(f["children"]) for f in tree) == 19
    assert len(_leaves(tree)) == 72


# --- ISO/IEC 42001:2023 Annex A: 38 controls under 9 objectives ----------------------------------

ISO_CONTROLS = {
    "A.2": ["A.2.2", "A.2.3", "A.2.4"],
    "A.3": ["A.3.2", "A.3.3"],
    "A.4": ["A.4.2", "A.4.3", "A.4.4", "A.4.5", "A.4.6"],
    "A.5": ["A.5.2", "A.5.3", "A.5.4", "A.5.5"],
    "A.6": ["A.6.1.2", "A.6.1.3", "A.6.2.2", "A.6.2.3", "A.6.2.4", "A.6.2.5", "A.6.2.6", "A.6.2.7", "A.6.2.8"],
    "A.7": ["A.7.2", "A.7.3", "A.7.4", "A.7.5", "A.7.6"],
    "A.8": ["A.8.2", "A.8.3", "A.8.4", "A.8.5"],
    "A.9": ["A.9.2", "A.9.3", "A.9.4"],
    "A.10": ["A.10.2", "A.10.3", "A.10.4"],
}


def test_iso_42001_annex_a_has_38_controls_in_9_objectives(docs):
    doc = docs["iso-42001-2023"]
    tree = doc["requirements"]
    assert [o["ref"] for o in tree] == list(ISO_CONTROLS)
    assert all(o["kind"] == "objective" for o in tree)
    assert {o["ref"]: _leaves(o["children"]) for o in tree} == ISO_CONTROLS
    assert len(_leaves(tree)) == 38
    assert all(node["kind"] == "control" for node, _, _ in _walk(tree) if not node.get("children"))
    assert "own words" in doc["licence"] and "not reproduced" in doc["licence"]


# --- SOC 2 (2017 TSC): 33 common criteria, plus A1, C1, PI1 and privacy ----------------------------

SOC2_COMMON = {"CC1": 5, "CC2": 3, "CC3": 4, "CC4": 2, "CC5": 3, "CC6": 8, "CC7": 5, "CC8": 1, "CC9": 2}


def test_soc2_has_the_33_common_criteria(docs):
    doc = docs["soc2-2017"]
    tree = {node["ref"]: node for node in doc["requirements"]}
    common = tree["CC"]["children"]
    assert {s["ref"]: len(s["children"]) for s in common} == SOC2_COMMON
    criteria = _leaves(common)
    assert len(criteria) == 33
    assert criteria == [f"{series}.{n}" for series, count in SOC2_COMMON.items() for n in range(1, count + 1)]
    assert _leaves([tree["A1"]]) == ["A1.1", "A1.2", "A1.3"]
    assert _leaves([tree["C1"]]) == ["C1.1", "C1.2"]
    assert _leaves([tree["PI1"]]) == [f"PI1.{n}" for n in range(1, 6)]
    assert len(_leaves([tree["P"]])) == 18
    assert "own words" in doc["licence"] and "not reproduced" in doc["licence"]


# --- EU AI Act: every listed article, with its paragraphs ----------------------------------------

EU_GROUPS = {
    "PROHIBITED": ["Art.5"],
    "HIGH-RISK-PROVIDERS": ["Art.9", "Art.10", "Art.11", "Art.12", "Art.13", "Art.14", "Art.15", "Art.16", "Art.17"],
    "HIGH-RISK-DEPLOYERS": ["Art.26", "Art.27"],
    "TRANSPARENCY": ["Art.50"],
    "GPAI": ["Art.53", "Art.55"],
    "POST-MARKET": ["Art.72"],
    "INCIDENTS": ["Art.73"],
}


def test_eu_ai_act_has_every_listed_article_in_its_group(docs):
    doc = docs["eu-ai-act-2024"]
    tree = doc["requirements"]
    assert {g["ref"]: [a["ref"] for a in g["children"]] for g in tree} == EU_GROUPS
    for group in tree:
        for article in group["children"]:
            assert article["kind"] == "article" and article["children"], article["ref"]
            for leaf in article["children"]:
                # Art.9(1), Art.5(1)(a), Art.16(a): the article number, then paragraph and/or point.
                assert re.fullmatch(rf"{re.escape(article['ref'])}(\(\d+\))?(\([a-z]\))?", leaf["ref"]), leaf["ref"]
                assert leaf["ref"] != article["ref"] and not leaf.get("children")
                assert leaf.get("description"), leaf["ref"]
    assert "2024/1689" in doc["source"] and "eur-lex" in doc["licence"].lower()


def test_eu_ai_act_lists_all_eight_prohibited_practices(docs):
    refs = _by_ref(docs["eu-ai-act-2024"])
    assert [c["ref"] for c in refs["Art.5"]["children"]] == [f"Art.5(1)({p})" for p in "abcdefgh"]


def test_eu_ai_act_splits_provider_and_gpai_obligations_into_points(docs):
    refs = _by_ref(docs["eu-ai-act-2024"])
    assert [c["ref"] for c in refs["Art.16"]["children"]] == [f"Art.16({p})" for p in "abcdefghijkl"]
    assert [c["ref"] for c in refs["Art.17"]["children"]] == [f"Art.17(1)({p})" for p in "abcdefghijklm"]
    assert [c["ref"] for c in refs["Art.55"]["children"]] == [f"Art.55(1)({p})" for p in "abcd"]
    assert {"Art.53(1)(a)", "Art.53(1)(b)", "Art.53(1)(c)", "Art.53(1)(d)"} <= set(refs)
    assert [c["ref"] for c in refs["Art.73"]["children"]] == [f"Art.73({n})" for n in range(1, 7)]


# --- The unified controls and their mappings ------------------------------------------------------


def test_controls_file_has_its_metadata(controls):
    assert set(controls) == {"source", "licence", "mapping_note", "controls"}
    for field in ("source", "licence", "mapping_note"):
        assert isinstance(controls[field], str) and controls[field].strip()
    assert "editorial" in controls["mapping_note"]
    assert 40 <= len(controls["controls"]) <= 65


def test_control_keys_are_unique_and_sequential(controls):
    keys = [c["key"] for c in controls["controls"]]
    assert keys == [f"VC-{n:02d}" for n in range(1, len(keys) + 1)]
    for control in controls["controls"]:
        assert set(control) == {"key", "name", "description", "maps"}, control["key"]
        assert control["name"].strip() and control["description"].strip(), control["key"]
    names = Counter(c["name"] for c in controls["controls"])
    assert not [n for n, count in names.items() if count > 1]


def test_every_mapping_points_at_an_existing_leaf_requirement(docs, controls):
    leaves = {key: set(_leaves(doc["requirements"])) for key, doc in docs.items()}
    problems = []
    for control in controls["controls"]:
        for fw_key, refs in control["maps"].items():
            if fw_key not in leaves:
                problems.append(f"{control['key']}: unknown framework {fw_key}")
                continue
            assert isinstance(refs, list) and refs, f"{control['key']}: {fw_key} maps nothing"
            problems += [f"{control['key']}: {fw_key} has no leaf requirement {ref!r}"
                         for ref in refs if ref not in leaves[fw_key]]
            assert len(refs) == len(set(refs)), f"{control['key']}: duplicate refs for {fw_key}"
    assert not problems, "\n".join(problems)


def test_each_control_maps_to_at_least_two_frameworks(controls):
    single = [c["key"] for c in controls["controls"] if len(c["maps"]) < 2]
    assert not single


def test_every_requirement_of_every_framework_is_covered_by_a_control(docs, controls):
    """Adopting any framework proposes a control for each of its requirements."""
    covered: dict[str, set[str]] = {key: set() for key in docs}
    for control in controls["controls"]:
        for fw_key, refs in control["maps"].items():
            covered[fw_key].update(refs)
    gaps = {key: sorted(set(_leaves(doc["requirements"])) - covered[key]) for key, doc in docs.items()}
    assert not any(gaps.values()), gaps


def test_the_ai_frameworks_are_cross_mapped(controls):
    """The controls tie the EU AI Act, AI RMF, ISO/IEC 42001 and CSF together, not just each to itself."""
    pairs = Counter()
    for control in controls["controls"]:
        keys = sorted(control["maps"])
        pairs.update((a, b) for i, a in enumerate(keys) for b in keys[i + 1:])
    for pair in [("eu-ai-act-2024", "nist-ai-rmf-1.0"), ("eu-ai-act-2024", "iso-42001-2023"),
                 ("iso-42001-2023", "nist-ai-rmf-1.0"), ("eu-ai-act-2024", "nist-csf-2.0"),
                 ("nist-ai-rmf-1.0", "nist-csf-2.0"), ("nist-csf-2.0", "soc2-2017")]:
        assert pairs[pair] >= 5, (pair, pairs[pair])
