"""The EU AI Act decision logic: every tier, the Art. 6(3) derogation and its profiling exception, and
the obligations each role gets."""

from __future__ import annotations

import pytest

from app.governance import ai_classification as q
from app.governance.ai_models import AIActRole, RiskTier


def answers(**overrides) -> dict:
    """A complete questionnaire for a minimal-risk system a deployer uses; override what a test is about."""
    base = {"roles": ["deployer"], "gpai": "no", "annex1": "no", "annex3": "no"}
    base |= {key: "no" for key in q.PROHIBITED_PRACTICES} | {key: "no" for key in q.TRANSPARENCY}
    return base | overrides


def refs(outcome) -> list[str]:
    return [o.ref for o in outcome.obligations]


def test_nothing_applies_is_minimal_risk():
    outcome = q.classify(answers())
    assert outcome.tier == RiskTier.MINIMAL and outcome.label == "Minimal risk"
    assert any(r["ref"] == "Art.95" for r in outcome.reasoning)
    assert refs(outcome) == ["Art.4"]


@pytest.mark.parametrize("key", list(q.PROHIBITED_PRACTICES))
def test_each_article_5_practice_makes_it_prohibited_over_everything_else(key):
    outcome = q.classify(answers(**{key: "yes"}, annex3="yes", annex3_area="employment", annex3_profiling="yes",
                                 annex3_derogation="no", art50_interacts="yes", roles=["provider"]))
    point = q.PROHIBITED_PRACTICES[key][0]
    assert outcome.tier == RiskTier.PROHIBITED and outcome.label == "Prohibited (Art. 5)"
    assert f"Art.5(1)({point})" in [r["ref"] for r in outcome.reasoning]
    assert refs(outcome) == ["Art.5"]


def test_cv_screening_in_employment_is_high_risk_with_provider_obligations():
    outcome = q.classify(answers(roles=["provider"], annex3="yes", annex3_area="employment", annex3_profiling="yes",
                                 annex3_derogation="no"))
    assert outcome.tier == RiskTier.HIGH and outcome.annex == "annex_iii"
    assert outcome.label == "High-risk (Annex III — employment)"
    assert {"Art.9", "Art.10", "Art.11", "Art.12", "Art.13", "Art.14", "Art.15", "Art.16", "Art.17", "Art.43",
            "Art.49", "Art.72", "Art.73"} <= set(refs(outcome))
    assert "Art.26" not in refs(outcome)
    assert outcome.primary_role == AIActRole.PROVIDER
    texts = " ".join(r["text"] for r in outcome.reasoning)
    assert "employment" in texts and "profiles natural persons" in texts


def test_high_risk_deployer_gets_article_26_and_27_not_provider_duties():
    outcome = q.classify(answers(annex3="yes", annex3_area="essential_services", annex3_profiling="no",
                                 annex3_derogation="no"))
    assert outcome.tier == RiskTier.HIGH
    assert refs(outcome) == ["Art.4", "Art.26", "Art.27"]
    assert "required" in outcome.obligations[-1].detail  # credit scoring etc.: FRIA required
    assert outcome.primary_role == AIActRole.DEPLOYER


def test_importer_and_distributor_obligations():
    outcome = q.classify(answers(roles=["importer", "distributor"], annex1="yes"))
    assert outcome.label == "High-risk (Annex I — product safety)"
    assert refs(outcome) == ["Art.4", "Art.23", "Art.24"] and outcome.primary_role == AIActRole.IMPORTER


def test_the_article_6_3_derogation_takes_an_annex_iii_system_out_of_high_risk():
    outcome = q.classify(answers(roles=["provider"], annex3="yes", annex3_area="education", annex3_profiling="no",
                                 annex3_derogation="yes"))
    assert outcome.tier == RiskTier.MINIMAL and outcome.derogation
    assert "Art.6(4)" in refs(outcome) and "Art.9" not in refs(outcome)
    assert any(r["ref"] == "Art.6(3)" and "not high-risk" in r["text"] for r in outcome.reasoning)


def test_the_derogation_never_applies_when_the_system_profiles_people():
    outcome = q.classify(answers(annex3="yes", annex3_area="employment", annex3_profiling="yes",
                                 annex3_derogation="yes"))
    assert outcome.tier == RiskTier.HIGH and not outcome.derogation


def test_chatbot_is_transparency_and_combines_with_gpai():
    chatbot = q.classify(answers(roles=["provider", "deployer"], art50_interacts="yes"))
    assert chatbot.tier == RiskTier.TRANSPARENCY and chatbot.label == "Transparency obligations (Art. 50)"
    assert "Art.50(1)" in refs(chatbot)
    assistant = q.classify(answers(roles=["provider"], gpai="yes", gpai_systemic="no", art50_synthetic="yes"))
    assert assistant.tier == RiskTier.TRANSPARENCY and assistant.gpai
    assert assistant.label == "Transparency obligations (Art. 50) + general-purpose AI"
    assert {"Art.50(2)", "Art.53"} <= set(refs(assistant)) and "Art.55" not in refs(assistant)


def test_gpai_model_with_systemic_risk():
    outcome = q.classify(answers(roles=["provider"], gpai="yes", gpai_systemic="yes"))
    assert outcome.tier == RiskTier.GPAI and outcome.systemic_risk
    assert refs(outcome)[-2:] == ["Art.53", "Art.55"]
    deployer = q.classify(answers(gpai="yes", gpai_systemic="yes"))
    assert [o.title for o in deployer.obligations if o.ref == "Art.53"] == ["Obtain the model provider’s documentation"]


def test_deepfakes_and_emotion_recognition_duties_fall_on_deployers():
    outcome = q.classify(answers(art50_synthetic="yes", art50_emotion="yes"))
    assert {"Art.50(3)", "Art.50(4)"} <= set(refs(outcome)) and "Art.50(2)" not in refs(outcome)


def test_missing_and_invalid_answers_are_named():
    raw = answers(annex3="yes", roles=["provider", "owner"], art5_c="maybe")
    del raw["gpai"]
    clean, errors = q.clean_all(raw)
    assert set(errors) == {"roles", "art5_c", "gpai", "annex3_area", "annex3_profiling", "annex3_derogation"}
    assert "not one of" in errors["roles"][0] and errors["art5_c"] == ["Answer yes or no."]
    assert clean["annex3"] == "yes"
    with pytest.raises(ValueError, match="gpai"):
        q.classify(raw)


def test_follow_up_answers_are_dropped_when_their_question_turns_no():
    stored, errors = q.clean_step("gpai", {"gpai": "no", "gpai_systemic": "yes"}, {})
    assert stored == {"gpai": "no"} and errors == {}
    stored, errors = q.clean_step("gpai", {"gpai": "yes"}, {})
    assert errors == {"gpai_systemic": ["Answer yes or no."]}


def test_a_half_filled_step_keeps_its_valid_answers():
    stored, errors = q.clean_step("prohibited", {"art5_a": "no", "art5_b": "yes"}, {})
    assert stored == {"art5_a": "no", "art5_b": "yes"} and len(errors) == 6
    merged = q.merge_step({"roles": ["provider"], "art5_c": "yes"}, "prohibited", stored)
    assert merged == {"roles": ["provider"], "art5_a": "no", "art5_b": "yes"}
    assert q.first_incomplete_step(merged) == "gpai"


def test_json_booleans_are_accepted_for_yes_no():
    clean, errors = q.clean_all(answers(gpai=True, gpai_systemic=False))
    assert errors == {} and clean["gpai"] == "yes" and clean["gpai_systemic"] == "no"
