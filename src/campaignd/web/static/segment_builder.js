/* campaignd admin, segment builder: the "Add a condition" and "Add an engagement
   condition" rows write a condition into the filter's JSON (joined with "all"); the live
   count follows through htmx. */
(function () {
  "use strict";

  var FIELDS = ["email", "source", "createdAt"];
  var NO_VALUE = ["exists", "missing"];
  var MANY = ["in", "not_in"];

  function scalar(text) {
    var trimmed = text.trim();
    if (trimmed === "true") { return true; }
    if (trimmed === "false") { return false; }
    if (trimmed !== "" && !isNaN(Number(trimmed)) && /^-?[0-9.eE+-]+$/.test(trimmed)) {
      return Number(trimmed);
    }
    return trimmed;
  }

  function condition(builder) {
    var subject = builder.querySelector("[data-condition=subject]").value.trim();
    var op = builder.querySelector("[data-condition=op]").value;
    var value = builder.querySelector("[data-condition=value]").value;
    if (subject === "list") { return { list: value.trim() }; }
    var made = FIELDS.indexOf(subject) >= 0 ? { field: subject } : { attribute: subject };
    made.op = op;
    if (NO_VALUE.indexOf(op) < 0) {
      made.value = MANY.indexOf(op) >= 0 ? value.split(",").map(scalar) : scalar(value);
    }
    return made;
  }

  function engagement(builder) {
    function value(name) {
      return builder.querySelector("[data-engagement=" + name + "]").value.trim();
    }
    var made = { engagement: value("activity") };
    if (value("campaign")) { made.campaign = value("campaign"); }
    if (/^[0-9]+$/.test(value("days")) && Number(value("days")) > 0) {
      made.within = Number(value("days")) + "d";
    }
    return value("negated") === "not" ? { not: made } : made;
  }

  function joined(text, added) {
    var current;
    try {
      current = text.trim() ? JSON.parse(text) : { all: [] };
    } catch (error) {
      return null;
    }
    if (current && typeof current === "object" && Array.isArray(current.all) && Object.keys(current).length === 1) {
      current.all.push(added);
      return current;
    }
    return { all: [current, added] };
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action=add-condition], [data-action=add-engagement]");
    if (!button) { return; }
    var added = button.matches("[data-action=add-engagement]")
      ? engagement(button.closest("[data-engagement-builder]"))
      : condition(button.closest("[data-condition-builder]"));
    var textarea = document.getElementById("segment-filter");
    var result = joined(textarea.value, added);
    if (result === null) {
      textarea.focus();
      return;  // the filter is not JSON yet: its error is shown under it
    }
    textarea.value = JSON.stringify(result, null, 2);
    if (window.htmx) { window.htmx.trigger(textarea, "filter-changed"); }
  });
})();
