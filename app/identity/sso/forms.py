"""Forms of the SSO admin page; every rule (checks, uniqueness, enforcement) lives in the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.core.permissions import ROLE_LABELS


class OidcForm(FlaskForm):
    oidc_issuer = StringField("Issuer URL", validators=[Length(max=500)],
                              render_kw={"placeholder": "https://login.example.com", "autocomplete": "off"})
    oidc_client_id = StringField("Client id", validators=[Length(max=255)], render_kw={"autocomplete": "off"})
    oidc_client_secret = PasswordField("Client secret", validators=[Optional(), Length(max=1000)],
                                       render_kw={"autocomplete": "new-password"})
    oidc_scopes = StringField("Scopes", validators=[Length(max=255)], default="openid email profile")
    oidc_email_claim = StringField("Email claim", validators=[Length(max=100)], default="email")
    oidc_groups_claim = StringField("Groups claim", validators=[Length(max=100)], default="groups")


class SamlForm(FlaskForm):
    saml_metadata_file = FileField("IdP metadata file (XML)")
    saml_metadata_url = StringField("…or IdP metadata URL", validators=[Optional(), Length(max=500)],
                                    render_kw={"placeholder": "https://idp.example.com/metadata",
                                               "autocomplete": "off"})
    saml_idp_entity_id = StringField("IdP entity id", validators=[Optional(), Length(max=500)])
    saml_idp_sso_url = StringField("IdP single sign-on URL (HTTP-Redirect)", validators=[Optional(), Length(max=500)])
    saml_idp_slo_url = StringField("IdP single logout URL (optional)", validators=[Optional(), Length(max=500)])
    saml_idp_cert = TextAreaField("IdP signing certificate (PEM)", validators=[Optional(), Length(max=20000)],
                                  render_kw={"rows": 4, "spellcheck": "false"})
    saml_want_response_signed = BooleanField("Also require the whole response to be signed")
    saml_email_attr = StringField("Email attribute", validators=[Length(max=200)], default="email")
    saml_name_attr = StringField("Name attribute", validators=[Length(max=200)], default="displayName")
    saml_groups_attr = StringField("Groups attribute", validators=[Length(max=200)], default="groups")
    saml_slo_enabled = BooleanField("Sign out at the IdP too (SP-initiated single logout)")


class SsoSettingsForm(FlaskForm):
    allowed_domains = StringField("Email domains routed to this IdP", validators=[Length(max=2000)],
                                  render_kw={"placeholder": "example.com, example.org", "autocomplete": "off"})
    jit_enabled = BooleanField("Create members on first sign-in (just-in-time provisioning)")
    default_role = SelectField("Role for new members", choices=[(r.value, label) for r, label in ROLE_LABELS.items()])
    group_roles_text = TextAreaField("Group → role mapping", validators=[Length(max=20000)],
                                     render_kw={"rows": 5, "spellcheck": "false",
                                                "placeholder": "soc-analysts = analyst\nsecurity-admins = admin"})
    allow_idp_initiated = BooleanField("Accept IdP-initiated sign-in (SAML, from the IdP's app portal)")
    enforce_sso = BooleanField("Enforce SSO: members sign in only through the IdP (admins keep password + MFA)")
