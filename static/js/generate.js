/* The generate page: show only the fields the chosen model uses, and only the corpus pieces
   of its corpus; offer the model's way's number of takes, and bars brought back and the
   memory only to a model without a look back. Each model option carries its way's fields (data-fields, from the way's
   capabilities); a field that only some ways take is marked data-field="name". A hidden
   field is disabled, so it is not sent. Without this script every field shows, each says
   which runs use it, and the server ignores or refuses what does not apply. */
(function () {
  "use strict";

  function setUp(form) {
    var checkpoint = form.querySelector('select[name="checkpoint"]');
    var tunes = form.querySelector('select[name="primer_tune"]');
    if (!checkpoint) return;
    var page = form.closest(".generate-layout") || document;

    function update() {
      var option = checkpoint.options[checkpoint.selectedIndex];
      var fields = option && option.hasAttribute("data-fields")
        ? option.getAttribute("data-fields").split(" ") : null;
      var corpus = option ? option.getAttribute("data-corpus") : null;
      page.querySelectorAll("[data-field]").forEach(function (box) {
        var hidden = !!fields && fields.indexOf(box.getAttribute("data-field")) < 0;
        box.hidden = hidden;
        box.querySelectorAll("input, select, textarea").forEach(function (input) {
          input.disabled = hidden;
        });
      });
      // A row or fieldset whose every field is hidden goes too (its legend, its gap).
      form.querySelectorAll(".field-row, [data-field-group]").forEach(function (group) {
        var fields = group.querySelectorAll(".field");
        group.hidden = !!group.querySelector("[data-field]") &&
          Array.prototype.every.call(fields, function (f) { return f.hidden; });
      });
      if (!tunes) return;
      Array.prototype.forEach.call(tunes.querySelectorAll("optgroup"), function (group) {
        var mine = false;
        Array.prototype.forEach.call(group.querySelectorAll("option"), function (o) {
          var ok = o.getAttribute("data-corpus") === corpus;
          o.hidden = !ok;
          o.disabled = !ok;
          mine = mine || ok;
        });
        group.hidden = !mine;
      });
      var chosen = tunes.options[tunes.selectedIndex];
      if (chosen && chosen.disabled) tunes.value = "";
    }

    // Options that only work with another: without it they are cleared and greyed, so
    // the form never sends a combination the server would refuse.
    var NEEDS = { folk_form: "grammar", returns: "folk_form" };

    function follow() {
      Object.keys(NEEDS).forEach(function (name) {
        var box = form.querySelector('input[name="' + name + '"]');
        var need = form.querySelector('input[name="' + NEEDS[name] + '"]');
        if (!box || !need) return;
        var usable = need.checked;
        if (!usable) box.checked = false;
        box.closest(".field").classList.toggle("field-off", !usable);
        if (!box.closest("[data-field]") || !box.closest("[data-field]").hidden) {
          box.disabled = !usable;
        }
      });
    }

    // Each model's run offers its own sampler first (data-takes, data-temperature,
    // data-top-p): a new model brings its values, each until the visitor sets it themselves.
    var OFFERED = { takes: "data-takes", temperature: "data-temperature", top_p: "data-top-p" };
    var offeredSet = {};
    function slider(input) {  // the range beside a number (the temperature's), or null
      var pair = input.closest("[data-range-pair]");
      return pair ? pair.querySelector('input[type="range"]') : null;
    }
    Object.keys(OFFERED).forEach(function (name) {
      var input = form.querySelector('input[name="' + name + '"]');
      if (!input) return;
      [input, slider(input)].forEach(function (el) {
        if (el) el.addEventListener("input", function () { offeredSet[name] = true; });
      });
    });

    function offerSampler() {
      var option = checkpoint.options[checkpoint.selectedIndex];
      if (!option) return;
      Object.keys(OFFERED).forEach(function (name) {
        var input = form.querySelector('input[name="' + name + '"]');
        if (!input || offeredSet[name] || !option.hasAttribute(OFFERED[name])) return;
        input.value = option.getAttribute(OFFERED[name]);
        if (slider(input)) slider(input).value = input.value;
      });
    }

    // A model that looks back brings its figures back by itself (data-repeats="off"): the
    // page offers it without bars brought back and the memory, until the visitor sets them.
    var REPEATS = ["returns", "memory"];
    var repeatsSet = false;
    REPEATS.forEach(function (name) {
      var box = form.querySelector('input[name="' + name + '"]');
      if (box) box.addEventListener("change", function () { repeatsSet = true; });
    });

    function offerRepeats() {
      var option = checkpoint.options[checkpoint.selectedIndex];
      if (repeatsSet || !option || !option.hasAttribute("data-repeats")) return;
      var on = option.getAttribute("data-repeats") === "on";
      REPEATS.forEach(function (name) {
        var box = form.querySelector('input[name="' + name + '"]');
        if (box) box.checked = on;
      });
    }

    form.classList.add("fields-follow-model");
    checkpoint.addEventListener("change", function () {
      update(); offerRepeats(); follow(); offerSampler();
    });
    Object.keys(NEEDS).forEach(function (name) {
      var need = form.querySelector('input[name="' + NEEDS[name] + '"]');
      if (need) need.addEventListener("change", follow);
    });
    update();
    follow();
  }

  function init() {
    document.querySelectorAll("form[data-generate-form]").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
