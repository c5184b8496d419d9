"""The staff console's pages."""

from flask import render_template

from app.staff import bp


@bp.route("/")
def index():
    """The staff home page."""
    return render_template("staff/index.html")
