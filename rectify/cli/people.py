"""`rectify people`: add the supervision groups' members and the command office's admins."""

from __future__ import annotations

from typing import Annotated

import typer

from rectify.cli.main import app, console, initialised_runtime, user_errors

people_app = typer.Typer(help="People who sign in: supervisors (督导组成员) and admins; unit contacts come "
                              "from `rectify units import`.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(people_app, name="people")

@people_app.command("add")
@user_errors
def add(
    name: Annotated[str, typer.Argument(help="Full name, as it appears in mails and the audit trail.")],
    email: Annotated[str, typer.Argument(help="E-mail address: where mail and sign-in links go.")],
    role: Annotated[str, typer.Option(help="One of: admin, supervisor, unit_contact, unit_leader.")] = "supervisor",
    group: Annotated[str | None, typer.Option(help="Supervision group, for a supervisor (e.g. 第一督导组).")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit, for a unit contact or leader.")] = None,
    mobile: Annotated[str | None, typer.Option(help="Mobile number for SMS (手机); '' clears it.")] = None,
    wecom: Annotated[str | None, typer.Option(help="企业微信 userid (企业微信账号); '' clears it.")] = None,
    dingtalk: Annotated[str | None, typer.Option(help="钉钉 userid (钉钉账号); '' clears it.")] = None,
) -> None:
    """Add a person, or update the one with that e-mail address."""
    from rectify.db import transaction
    from rectify.services.people import add_person

    rt = initialised_runtime()
    try:
        with transaction(rt.sessions) as s:
            done = add_person(s, name=name, email=email, role=role, group=group, unit=unit,
                              county_prefix=rt.settings.county_prefix, mobile=mobile, wecom=wecom,
                              dingtalk=dingtalk)
            verb = "added" if done.created else "updated"
            console.print(f"{verb}: {done.person.name} <{done.person.email}> as {done.person.role}", highlight=False)
    finally:
        rt.close()


@people_app.command("list")
@user_errors
def list_(role: Annotated[str | None, typer.Option(help="Only this role.")] = None) -> None:
    """Everyone who can sign in, with their role and group or unit, and where IM and SMS reach them."""
    from rectify.services.people import list_people, reach_text

    rt = initialised_runtime()
    try:
        with rt.sessions() as s:
            for person, where in list_people(s, role):
                flag = "" if person.active else "  (inactive)"
                console.print(f"{person.role:<13} {where or '-':<16} {person.name} <{person.email or '-'}>"
                              f"{reach_text(person)}{flag}", highlight=False, markup=False, soft_wrap=True)
    finally:
        rt.close()


@people_app.command("deactivate")
@user_errors
def deactivate_(email: Annotated[str, typer.Argument(help="E-mail address of the person who left.")]) -> None:
    """Stop mail and sign-in for someone who left; their history stays."""
    from rectify.db import transaction
    from rectify.services.people import deactivate

    rt = initialised_runtime()
    try:
        with transaction(rt.sessions) as s:
            person = deactivate(s, email, rt.now())
            console.print(f"deactivated: {person.name} <{person.email}> (sessions, links and API tokens ended)",
                          highlight=False)
    finally:
        rt.close()


@people_app.command("revoke")
@user_errors
def revoke(email: Annotated[str, typer.Argument(help="E-mail address of the person.")]) -> None:
    """End every session, mail link and API token of one person now (they can sign in again by e-mail)."""
    from rectify.db import transaction
    from rectify.services.revocation import revoke_person

    rt = initialised_runtime()
    try:
        with transaction(rt.sessions) as s:
            person, tokens = revoke_person(s, email, rt.now())
            console.print(f"revoked: {person.name} <{person.email}>: sessions and links before now, "
                          f"{tokens} API token(s)", highlight=False)
    finally:
        rt.close()
