"""The login form: allauth's, so that throttling and the two-factor step come with it."""

from __future__ import annotations

from allauth.account import forms as allauth_forms


class LoginForm(allauth_forms.LoginForm):
    """allauth names the address field ``login``; Tessera's form and whatever posts to it
    (password managers, scripts, tests) send ``username``, so both are accepted."""

    def __init__(self, *args, **kwargs) -> None:
        data = kwargs.get("data")
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            kwargs["data"] = data
        super().__init__(*args, **kwargs)
