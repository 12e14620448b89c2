/* campaignd admin: local times, the browser's time zone in pickers, confirmations. */
(function () {
  "use strict";

  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  var formats = {
    datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
    date: { year: "numeric", month: "short", day: "numeric" },
    time: { hour: "2-digit", minute: "2-digit", second: "2-digit" }
  };

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment)) { return; }
      var style = formats[element.dataset.format] || formats.datetime;
      element.textContent = moment.toLocaleString(undefined, style);
      element.title = element.getAttribute("datetime").replace("T", " ").replace("Z", " UTC");
    });
    root.querySelectorAll("text[data-hour]").forEach(function (element) {
      var moment = new Date(element.dataset.hour);
      if (!isNaN(moment)) {
        element.textContent = moment.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
      }
    });
    root.querySelectorAll("[data-local-zone]").forEach(function (element) {
      element.textContent = zone;
    });
  }

  function partsIn(moment, timeZone) {
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {
      timeZone: timeZone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
    }).formatToParts(moment).forEach(function (part) { parts[part.type] = part.value; });
    return parts;
  }

  function chooseZone(select, name) {
    if (!Array.prototype.some.call(select.options, function (option) { return option.value === name; })) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name.replace(/_/g, " ");
      select.insertBefore(option, select.options[1] || null);
    }
    select.value = name;
  }

  function prepareZonePickers(root) {
    root.querySelectorAll(".when").forEach(function (fieldset) {
      var select = fieldset.querySelector("select[data-zone-picker]");
      if (!select) { return; }
      var utc = fieldset.dataset.utc;
      if (utc) {
        var parts = partsIn(new Date(utc), zone);
        fieldset.querySelector("input[type=date]").value = parts.year + "-" + parts.month + "-" + parts.day;
        fieldset.querySelector("input[type=time]").value = parts.hour + ":" + parts.minute;
        chooseZone(select, zone);
      } else if (!select.dataset.chosen) {
        chooseZone(select, zone);
      }
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  function prepare(root) {
    localizeTimes(root);
    prepareZonePickers(root);
  }

  if (window.htmx) {
    window.htmx.onLoad(prepare);
  } else {
    document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  }
})();
