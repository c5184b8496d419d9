"""The operator portal's pages."""

from flask import render_template

from app.operator import bp


@bp.route("/")
def index():
    """The operator liaison's home page."""
    return render_template("operator/index.html")
