from flask import Blueprint

api_bp = Blueprint("audit_api", __name__)
