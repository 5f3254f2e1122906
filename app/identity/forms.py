from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class EmailForm(FlaskForm):
    """The first sign-in step: the email's domain decides between the IdP and a password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=320)],
                       render_kw={"autocomplete": "username webauthn", "autofocus": True})


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True})


class PasswordSetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "new-password", "autofocus": True})
    confirm = PasswordField("Repeat it", validators=[DataRequired(), Length(max=1024)],
                            render_kw={"autocomplete": "new-password"})
