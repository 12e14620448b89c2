"""Problems and times said the way a person typed them; subjects with their placeholders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaignd.actions.subject_samples import placeholder_parts
from campaignd.web.form_errors import field_error
from campaignd.web.timezones import BadTime, picker_values, shown_zone, to_utc, zoned_text


@pytest.mark.parametrize(
    ("detail", "field", "text"),
    [
        ("subject: must not be empty", "subject", "Write the subject."),
        ("name: must not be empty", "name", "Write the campaign name."),
        (
            "htmlBody or textBody: a campaign needs at least one body",
            "text_body",
            "Write a plain-text body, an HTML body, or both.",
        ),
        (
            "htmlBody: TemplateSyntaxError: unexpected '}'",
            "html_body",
            "This template cannot be used: unexpected '}'.",
        ),
        ("fromAddress: The domain name x is not valid.", "from_address", None),
        ("time zone: 'Mars/Base' is not a time zone we know", "timezone", None),
        ("scheduledFor: 2025-01-01T13:00:00+00:00 is in the past", "when", None),
        ("Cannot edit a campaign that is sending", None, "Cannot edit a campaign that is sending."),
    ],
)
def test_a_problem_names_its_field(detail: str, field: str | None, text: str | None) -> None:
    problem = field_error(detail)
    assert problem.field == field
    if text is not None:
        assert problem.text == text
    assert problem.text.endswith(".")


def test_a_skipped_wall_time_is_said_as_typed() -> None:
    with pytest.raises(BadTime, match=r"^time: 02:30 on 29 March 2026 does not exist in"):
        to_utc("2026-03-29", "02:30", "Europe/Berlin")


def test_a_campaign_is_shown_and_offered_in_its_zone() -> None:
    moment = datetime(2027, 1, 15, 14, 0, tzinfo=UTC)
    assert zoned_text(moment, "America/New_York") == "Fri 15 Jan 2027, 09:00 (America/New_York)"
    assert zoned_text(moment, None) == "Fri 15 Jan 2027, 14:00 (UTC)"
    assert picker_values(moment, "Asia/Tokyo") == {
        "date": "2027-01-15",
        "time": "23:00",
        "timezone": "Asia/Tokyo",
    }
    assert shown_zone("Not/AZone") == "UTC"


def test_placeholders_are_named_and_tags_left_out() -> None:
    assert placeholder_parts("Hi {{ first_name | title }}!{% if vip %} VIP{% endif %}") == (
        ("Hi ", False),
        ("first_name", True),
        ("!", False),
        (" VIP", False),
    )
    assert placeholder_parts("{{ 10 // share }} off") == (("10 // share", True), (" off", False))
