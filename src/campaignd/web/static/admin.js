/* campaignd admin: local times, a campaign's own zone beside the viewer's, the browser's
   time zone in new pickers, confirmations. */
(function () {
  "use strict";

  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  var formats = {
    datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
    date: { year: "numeric", month: "short", day: "numeric" },
    time: { hour: "2-digit", minute: "2-digit", second: "2-digit" }
  };

  function zonedText(moment, timeZone) {
    var options = { weekday: "short", year: "numeric", month: "short", day: "numeric",
                    hour: "2-digit", minute: "2-digit", timeZone: timeZone };
    return moment.toLocaleString(undefined, options) + " (" + timeZone + ")";
  }

  /* A campaign's time stays in the zone it was scheduled in; a viewer elsewhere also
     sees it in their own zone. */
  function showZoned(element, moment) {
    var campaignZone = element.dataset.zone;
    try {
      element.textContent = zonedText(moment, campaignZone);
    } catch (error) {
      return;  // a zone this browser does not know: keep the server's text
    }
    var viewer = element.parentNode.querySelector("[data-viewer-time]");
    var own = zonedText(moment, zone);
    var clock = function (text) { return text.replace(/ \([^)]*\)$/, ""); };
    if (viewer && campaignZone !== zone && clock(own) !== clock(element.textContent)) {
      viewer.textContent = own.replace(/ \(([^)]*)\)$/, " your time ($1)");
      viewer.hidden = false;
    }
  }

  function localizeTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment)) { return; }
      element.title = element.getAttribute("datetime").replace("T", " ").replace("Z", " UTC");
      if (element.dataset.format === "zoned") {
        showZoned(element, moment);
        return;
      }
      var style = formats[element.dataset.format] || formats.datetime;
      element.textContent = moment.toLocaleString(undefined, style);
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

  function chooseZone(select, name) {
    if (!Array.prototype.some.call(select.options, function (option) { return option.value === name; })) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name.replace(/_/g, " ");
      select.insertBefore(option, select.options[1] || null);
    }
    select.value = name;
  }

  /* A picker with nothing chosen yet starts on the browser's zone; one showing a
     campaign's time (or what was typed) keeps its zone. */
  function prepareZonePickers(root) {
    root.querySelectorAll("select[data-zone-picker]").forEach(function (select) {
      if (!select.dataset.chosen) {
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
