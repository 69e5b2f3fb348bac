/* The extraction form builder: edits the form's spec as one JSON object, which the page
   posts whole (the server validates it with check_form_spec). Fields move by drag and drop,
   by the Move buttons, or from the keyboard: focus a field and press Alt+ArrowUp/ArrowDown. */
(function () {
  "use strict";
  const root = document.getElementById("builder");
  if (!root) return;
  const input = document.getElementById("spec-input");
  const live = document.getElementById("builder-status");
  const KINDS = JSON.parse(document.getElementById("kinds-data").textContent);
  const COLUMN_KINDS = KINDS.filter(([k]) => k !== "table" && k !== "judgement");
  // Risk-of-bias tools a judgement can belong to (extraction/rob/), by their key.
  const ROB_TOOLS = {
    quadas2: "QUADAS-2", rob1: "RoB 1", robins_i: "ROBINS-I",
    nos_cohort: "Newcastle–Ottawa (cohort)", nos_case_control: "Newcastle–Ottawa (case–control)",
  };
  const NUMERIC = new Set(["integer", "decimal"]);
  const CHOICE = new Set(["single_choice", "multiple_choice"]);
  const state = JSON.parse(document.getElementById("spec-data").textContent) || {};
  const keyTouched = new WeakSet();
  let dirty = false;
  let dragged = null;

  function slug(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 50);
  }
  function normalise(item) {
    item.label = item.label || "";
    item.key = item.key || "";
    item.kind = item.kind || "short_text";
    item.help = item.help || "";
    item.unit = item.unit || "";
    item.choices = item.choices || [];
    if (item.key && item.key !== slug(item.label)) keyTouched.add(item);
    return item;
  }
  state.title = state.title || "";
  state.description = state.description || "";
  state.extractors_needed = state.extractors_needed || 2;
  state.sections = state.sections || [];
  state.sections.forEach((s) => {
    s.fields = s.fields || [];
    s.fields.forEach((f) => { normalise(f); f.columns = (f.columns || []).map(normalise); });
  });

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "value") el.value = value;
      else if (name === "checked") el.checked = value;
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return el;
  }

  function serialise() {
    const item = (f, isColumn) => {
      const out = {
        key: f.key, label: f.label, kind: f.kind, required: !!f.required, help: f.help,
        min: f.min === "" || f.min === undefined ? null : f.min,
        max: f.max === "" || f.max === undefined ? null : f.max,
        unit: f.unit, choices: f.choices,
      };
      if (!isColumn) {
        out.columns = (f.columns || []).map((c) => item(c, true));
        if (f.rob2) out.rob2 = f.rob2;
      }
      return out;
    };
    return {
      title: state.title, description: state.description,
      extractors_needed: Number(state.extractors_needed),
      sections: state.sections.map((s) => ({
        title: s.title || "", description: s.description || "",
        fields: s.fields.map((f) => item(f, false)),
      })),
    };
  }
  function changed() {
    dirty = true;
    input.value = JSON.stringify(serialise());
    document.querySelectorAll("[data-needs-saved]").forEach((el) => { el.hidden = false; });
  }
  function announce(text) { live.textContent = text; }

  function text(obj, prop, label, path, attrs) {
    return h("label", { class: "b-input" }, label,
      h("input", Object.assign({
        type: "text", value: obj[prop] === null || obj[prop] === undefined ? "" : obj[prop],
        "data-path": path,
        oninput: (e) => { obj[prop] = e.target.value; changed(); },
      }, attrs || {})));
  }

  function itemEditor(obj, path, kinds, isColumn, onLabel) {
    const keyInput = h("input", {
      type: "text", value: obj.key, "data-path": `${path}.key`, pattern: "[a-z0-9_]+",
      "aria-describedby": "key-help",
      oninput: (e) => { obj.key = e.target.value; keyTouched.add(obj); changed(); },
    });
    const labelInput = h("input", {
      type: "text", value: obj.label, "data-path": `${path}.label`, required: true,
      oninput: (e) => {
        obj.label = e.target.value;
        if (!keyTouched.has(obj)) { obj.key = slug(obj.label); keyInput.value = obj.key; }
        if (onLabel) onLabel();
        changed();
      },
    });
    const kindSelect = h("select", {
      "data-path": `${path}.kind`,
      onchange: (e) => {
        obj.kind = e.target.value;
        if (obj.kind === "table" && !obj.columns.length) obj.columns.push(normalise({}));
        changed(); render();
      },
    }, (obj.kind === "judgement" ? KINDS : kinds.filter(([k]) => k !== "judgement"))
      .map(([k, label]) => h("option", { value: k, selected: obj.kind === k ? "selected" : false }, label)));
    const grid = h("div", { class: "b-grid" },
      h("label", { class: "b-input" }, "Label", labelInput),
      h("label", { class: "b-input" }, "Key", keyInput),
      h("label", { class: "b-input" }, "Kind", kindSelect),
      h("label", { class: "b-check" },
        h("input", { type: "checkbox", checked: !!obj.required, "data-path": `${path}.required`,
          onchange: (e) => { obj.required = e.target.checked; changed(); } }), " Required"),
      text(obj, "help", "Help text", `${path}.help`),
    );
    if (NUMERIC.has(obj.kind)) {
      grid.append(
        text(obj, "min", "Minimum", `${path}.min`, { inputmode: "decimal" }),
        text(obj, "max", "Maximum", `${path}.max`, { inputmode: "decimal" }),
        text(obj, "unit", "Unit", `${path}.unit`),
      );
    }
    if (CHOICE.has(obj.kind)) {
      grid.append(h("label", { class: "b-input b-wide" }, "Choices, one per line",
        h("textarea", {
          rows: 3, "data-path": `${path}.choices`,
          oninput: (e) => { obj.choices = e.target.value.split("\n").map((c) => c.trim()).filter(Boolean); changed(); },
        }, obj.choices.join("\n"))));
    }
    if (obj.kind === "judgement" && obj.rob2) {
      const tool = obj.rob2.tool || "rob2";
      const text = tool === "rob2"
        ? `RoB 2 judgement (${obj.rob2.domain}): the algorithm proposes it from the signalling questions.`
        : `${ROB_TOOLS[tool] || tool} judgement (${obj.rob2.domain}${obj.rob2.aspect ? `, ${obj.rob2.aspect}` : ""}).`;
      grid.append(h("p", { class: "help b-wide" }, text));
    }
    return grid;
  }

  function moveButtons(label, onMove, onRemove, path) {
    return h("div", { class: "b-tools" },
      h("button", { type: "button", class: "b-up", "data-path": `${path}.up`, onclick: () => onMove(-1) }, "Move up", h("span", { class: "sr-only" }, ` ${label}`)),
      h("button", { type: "button", class: "b-down", "data-path": `${path}.down`, onclick: () => onMove(1) }, "Move down", h("span", { class: "sr-only" }, ` ${label}`)),
      h("button", { type: "button", class: "danger b-remove", "data-path": `${path}.remove`, onclick: onRemove }, "Remove", h("span", { class: "sr-only" }, ` ${label}`)));
  }

  function fieldEditor(field, si, fi) {
    const path = `s${si}.f${fi}`;
    const name = () => field.label || "untitled field";
    const li = h("li", {
      class: "b-field", tabindex: 0, "data-section": si, "data-index": fi, "data-path": path,
      "aria-label": `Field ${fi + 1} of section ${si + 1}: ${name()}. Alt+Up or Alt+Down moves it.`,
    });
    const handle = h("span", { class: "b-handle", title: "Drag to reorder", "aria-hidden": "true" }, "⠿");
    handle.addEventListener("mousedown", () => { li.draggable = true; });
    li.addEventListener("dragstart", (e) => {
      dragged = { si, fi };
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", `${si}:${fi}`);
      li.classList.add("b-dragging");
    });
    li.addEventListener("dragend", () => { li.draggable = false; dragged = null; render(); });
    li.addEventListener("dragover", (e) => { if (dragged) { e.preventDefault(); li.classList.add("b-over"); } });
    li.addEventListener("dragleave", () => li.classList.remove("b-over"));
    li.addEventListener("drop", (e) => {
      e.preventDefault(); e.stopPropagation();
      if (dragged) moveFieldTo(dragged.si, dragged.fi, si, fi);
    });
    const title = h("strong", { class: "b-title" }, `${fi + 1}. ${name()}`);
    li.append(
      h("div", { class: "b-head" }, handle, title,
        moveButtons(name(), (d) => moveField(si, fi, d), () => {
          state.sections[si].fields.splice(fi, 1); changed(); render();
          announce(`Field ${name()} removed.`);
        }, path)),
      itemEditor(field, path, KINDS, false, () => {
        title.textContent = `${fi + 1}. ${name()}`;
      }),
    );
    if (field.kind === "table") li.append(columnsEditor(field, path));
    return li;
  }

  function columnsEditor(field, path) {
    const list = h("ol", { class: "b-columns" });
    field.columns.forEach((column, ci) => {
      const cpath = `${path}.c${ci}`;
      const name = column.label || "untitled column";
      list.append(h("li", { class: "b-column", tabindex: 0, "data-path": cpath, "data-column": ci,
        "aria-label": `Column ${ci + 1}: ${name}. Alt+Up or Alt+Down moves it.` },
        h("div", { class: "b-head" }, h("span", {}, `Column ${ci + 1}`),
          moveButtons(name, (d) => moveColumn(field, ci, d, path), () => {
            field.columns.splice(ci, 1); changed(); render();
          }, cpath)),
        itemEditor(column, cpath, COLUMN_KINDS, true)));
    });
    return h("div", { class: "b-table" },
      h("p", { class: "b-subhead" }, "Columns (each row of the table has these)"), list,
      h("button", { type: "button", "data-path": `${path}.addcolumn`, onclick: () => {
        field.columns.push(normalise({})); changed(); render(`${path}.c${field.columns.length - 1}.label`);
      } }, "Add column"));
  }

  function moveColumn(field, ci, delta, path) {
    const to = ci + delta;
    if (to < 0 || to >= field.columns.length) return;
    const [column] = field.columns.splice(ci, 1);
    field.columns.splice(to, 0, column);
    changed(); render(`${path}.c${to}`);
    announce(`Column ${column.label || ""} moved to position ${to + 1}.`);
  }

  function moveField(si, fi, delta) {
    const sections = state.sections;
    let tsi = si;
    let tfi = fi + delta;
    if (tfi < 0) {
      if (si === 0) return;
      tsi = si - 1; tfi = sections[tsi].fields.length;
    } else if (tfi >= sections[si].fields.length) {
      if (si === sections.length - 1) return;
      tsi = si + 1; tfi = 0;
    }
    const [field] = sections[si].fields.splice(fi, 1);
    sections[tsi].fields.splice(tfi, 0, field);
    changed(); render(`s${tsi}.f${tfi}`);
    announce(`${field.label || "Field"} moved to position ${tfi + 1} of section ${tsi + 1}.`);
  }

  function moveFieldTo(si, fi, tsi, tfi) {
    if (si === tsi && fi === tfi) return;
    const [field] = state.sections[si].fields.splice(fi, 1);
    state.sections[tsi].fields.splice(tfi, 0, field);
    changed(); render(`s${tsi}.f${tfi}`);
    announce(`${field.label || "Field"} moved to position ${tfi + 1} of section ${tsi + 1}.`);
  }

  function sectionEditor(section, si) {
    const path = `s${si}`;
    const fields = h("ol", { class: "b-fields", "data-section": si });
    fields.addEventListener("dragover", (e) => { if (dragged) e.preventDefault(); });
    fields.addEventListener("drop", (e) => {
      e.preventDefault();
      if (dragged) moveFieldTo(dragged.si, dragged.fi, si, state.sections[si].fields.length - (dragged.si === si ? 1 : 0));
    });
    section.fields.forEach((f, fi) => fields.append(fieldEditor(f, si, fi)));
    return h("section", { class: "card b-section", "data-path": path },
      h("div", { class: "b-head" }, h("h2", {}, `Section ${si + 1}`),
        moveButtons(section.title || `section ${si + 1}`, (d) => {
          const to = si + d;
          if (to < 0 || to >= state.sections.length) return;
          const [s] = state.sections.splice(si, 1);
          state.sections.splice(to, 0, s);
          changed(); render(`s${to}.up`);
        }, () => {
          if (section.fields.length && !window.confirm(`Remove section ${si + 1} and its ${section.fields.length} field(s)?`)) return;
          state.sections.splice(si, 1); changed(); render();
        }, path)),
      h("div", { class: "b-grid" },
        text(section, "title", "Section title", `${path}.title`),
        text(section, "description", "Description", `${path}.description`)),
      fields,
      h("button", { type: "button", class: "b-add-field", "data-path": `${path}.addfield`, onclick: () => {
        section.fields.push(normalise({ kind: "short_text" }));
        section.fields[section.fields.length - 1].columns = [];
        changed(); render(`s${si}.f${section.fields.length - 1}.label`);
      } }, "Add field"));
  }

  function render(focusPath) {
    const active = focusPath || (document.activeElement && root.contains(document.activeElement)
      ? document.activeElement.getAttribute("data-path") : null);
    root.replaceChildren(
      h("div", { class: "card b-grid" },
        text(state, "title", "Form title", "title", { required: true }),
        h("label", { class: "b-input" }, "Extractors per study",
          h("select", { "data-path": "extractors_needed", onchange: (e) => { state.extractors_needed = Number(e.target.value); changed(); } },
            h("option", { value: "1", selected: state.extractors_needed === 1 ? "selected" : false }, "1"),
            h("option", { value: "2", selected: state.extractors_needed === 2 ? "selected" : false }, "2 (dual extraction)"))),
        h("label", { class: "b-input b-wide" }, "Description",
          h("textarea", { rows: 2, "data-path": "description", oninput: (e) => { state.description = e.target.value; changed(); } }, state.description))),
      ...state.sections.map(sectionEditor),
      h("button", { type: "button", class: "b-add-section", "data-path": "addsection", onclick: () => {
        state.sections.push({ title: `Section ${state.sections.length + 1}`, description: "", fields: [] });
        changed(); render(`s${state.sections.length - 1}.title`);
      } }, "Add section"));
    if (active) {
      const el = root.querySelector(`[data-path="${CSS.escape(active)}"]`);
      if (el) el.focus();
    }
  }

  root.addEventListener("keydown", (e) => {
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    const delta = e.key === "ArrowUp" ? -1 : 1;
    const column = e.target.closest(".b-column");
    const row = e.target.closest(".b-field");
    if (!row) return;
    e.preventDefault();
    const si = Number(row.dataset.section);
    const fi = Number(row.dataset.index);
    if (column) moveColumn(state.sections[si].fields[fi], Number(column.dataset.column), delta, `s${si}.f${fi}`);
    else moveField(si, fi, delta);
  });

  document.querySelectorAll("[data-publish]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (dirty) {
        e.preventDefault();
        announce("Save your changes before publishing: publishing freezes the saved form.");
        window.alert("Save your changes before publishing: publishing freezes the saved form.");
      }
    });
  });
  document.getElementById("builder-form").addEventListener("submit", () => {
    input.value = JSON.stringify(serialise());
    dirty = false;
  });
  window.addEventListener("beforeunload", (e) => { if (dirty) e.preventDefault(); });

  input.value = JSON.stringify(serialise());
  render();
  // The server named the field at fault: mark it and bring it into view.
  const faulty = root.dataset.errorField;
  if (faulty) {
    state.sections.forEach((s, si) => s.fields.forEach((f, fi) => {
      if (f.key !== faulty) return;
      const li = root.querySelector(`li[data-path="s${si}.f${fi}"]`);
      if (li) { li.classList.add("b-error"); li.scrollIntoView({ block: "center" }); }
    }));
  }
})();
