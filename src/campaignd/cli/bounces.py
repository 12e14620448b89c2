"""``campaignd bounces``: the bounce mailbox."""

from __future__ import annotations

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from campaignd.actions import bounce_mailbox as actions
from campaignd.actions.principal import Principal
from campaignd.actions.services import Services
from campaignd.cli.admin import prepared_settings, run_action
from campaignd.cli.common import command_group, console, errors, fail
from campaignd.cli.output import JSON, print_json
from campaignd.feedback.mailbox import MailboxProblem

app = command_group("Read bounces and complaints from the bounce mailbox.")


@app.command("poll")
def poll(json_output: bool = JSON) -> None:
    """Read the bounce mailbox once and apply what came back.

    Every DSN, complaint report and other bounce in CAMPAIGND_BOUNCE_IMAP_URL not read
    yet is applied (the delivery becomes bounced or complained, the address is
    suppressed) and marked processed; prints what happened."""
    settings = prepared_settings()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} messages read"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )

    async def work(services: Services, _: Principal) -> actions.PollResult:
        task = progress.add_task("Reading the bounce mailbox", total=None)

        def show(result: actions.PollResult) -> None:
            progress.update(task, completed=result.read)

        try:
            with progress:
                return await actions.poll_once(services, progress=show)
        except MailboxProblem as problem:
            raise fail(str(problem)) from None

    result = run_action(settings, work)
    if json_output:
        print_json(
            {
                "read": result.read,
                "applied": result.applied,
                "repeated": result.repeated,
                "unmatched": result.unmatched,
                "ignored": result.ignored,
            }
        )
        return
    console.print(
        f"{result.read} messages read: {result.applied} bounces and complaints applied, "
        f"{result.repeated} already applied, {result.unmatched} naming nothing of ours, "
        f"{result.ignored} neither bounce nor complaint (left flagged in the mailbox)"
    )
