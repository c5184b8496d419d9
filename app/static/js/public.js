// The public portal's forms, so that nothing typed or chosen is lost and one click files one appeal:
// - a refused submission moves the focus to the list of problems (a screen reader reads it first);
// - long text fields count their characters as they are typed, and say when the text is over the limit;
// - what was typed is kept in this tab (sessionStorage) while the language or elder mode is switched;
// - files are checked (type, size) when chosen, naming the file;
// - the button is disabled while the form is on its way; with files chosen the form is sent in the background
//   with upload progress, and a refusal replaces the page's content but keeps the files already chosen.
// The pages work without this script (the server checks everything again and keeps one appeal per form).
(function () {
  "use strict";

  function format(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (_m, key) {
      return values[key] !== undefined ? values[key] : "";
    });
  }

  function megabytes(bytes) {
    var mb = bytes / 1048576;
    return (mb >= 10 ? mb.toFixed(0) : mb.toFixed(1)) + " MB";
  }

  function size(bytes) {
    return bytes >= 1048576 ? megabytes(bytes) : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  // What the server counts: NFC text without surrounding spaces, one per character (not per UTF-16 unit).
  function length(text) {
    return Array.from((text || "").normalize("NFC").trim()).length;
  }

  function messages(form) {
    return form ? form.dataset : {};
  }

  function ensureAfter(field, id, className) {
    var existing = document.getElementById(id);
    if (existing) {
      return existing;
    }
    var el = document.createElement("p");
    el.id = id;
    el.className = className;
    var anchor = field.nextElementSibling && field.nextElementSibling.classList.contains("error")
      ? field.nextElementSibling : field;
    anchor.insertAdjacentElement("afterend", el);
    return el;
  }

  function describe(field, id) {
    var ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    if (ids.indexOf(id) < 0) {
      ids.push(id);
      field.setAttribute("aria-describedby", ids.join(" "));
    }
  }

  // Live counters on text areas with a limit; the live region speaks only when the text nears or passes it.
  function counters(root) {
    root.querySelectorAll("textarea[data-maxlength]").forEach(function (field) {
      var form = field.form;
      var max = parseInt(field.dataset.maxlength, 10);
      var counter = ensureAfter(field, field.id + "-counter", "counter");
      var live = ensureAfter(counter, field.id + "-counter-live", "sr-only");
      live.setAttribute("aria-live", "polite");
      describe(field, counter.id);
      var lastState = "";
      function update() {
        var n = length(field.value);
        var over = n > max;
        var state = over ? "over" : (n >= max * 0.9 ? "near" : "ok");
        counter.textContent = over
          ? format(messages(form).msgOver, { n: n, max: max, over: n - max })
          : format(messages(form).msgCounter, { n: n, max: max });
        counter.classList.toggle("error", over);
        field.classList.toggle("over-limit", over);
        if (state !== lastState) {
          live.textContent = state === "ok" ? "" : counter.textContent;
          lastState = state;
        }
      }
      field.addEventListener("input", update);
      update();
    });
  }

  // Typed values kept in this tab while the page reloads (language, elder mode), never the files.
  function draftFields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.type !== "file" && el.type !== "hidden" && el.type !== "submit" && el.type !== "button";
    });
  }

  function drafts(root) {
    root.querySelectorAll("form[data-draft]").forEach(function (form) {
      var key = "draft:" + form.dataset.draft;
      var saved = {};
      try {
        saved = JSON.parse(window.sessionStorage.getItem(key) || "{}");
      } catch (e) {
        saved = {};
      }
      draftFields(form).forEach(function (el) {
        if (!(el.name in saved)) {
          return;
        }
        var value = saved[el.name];
        if (el.type === "radio") {
          var group = form.querySelectorAll('input[type=radio][name="' + el.name + '"]:checked');
          if (!group.length && el.value === value) {
            el.checked = true;
          }
        } else if (el.type === "checkbox") {
          if (!el.checked && value === true) {
            el.checked = true;
          }
        } else if (!el.value && value) {
          el.value = value;
          el.dispatchEvent(new Event("input"));
        }
      });
      function save() {
        var data = {};
        draftFields(form).forEach(function (el) {
          if (el.type === "radio") {
            if (el.checked) {
              data[el.name] = el.value;
            }
          } else if (el.type === "checkbox") {
            data[el.name] = el.checked;
          } else {
            data[el.name] = el.value;
          }
        });
        try {
          window.sessionStorage.setItem(key, JSON.stringify(data));
        } catch (e) { /* storage full or disabled: the form still works */ }
      }
      form.addEventListener("input", save);
      form.addEventListener("change", save);
    });
    root.querySelectorAll("[data-clear-draft]").forEach(function (el) {
      try {
        window.sessionStorage.removeItem("draft:" + el.dataset.clearDraft);
      } catch (e) { /* nothing kept */ }
    });
  }

  // Files checked when chosen: type by name, size per file and together; each problem names the file.
  function fileProblems(input) {
    var allowed = (input.dataset.allowedExt || "").split(/\s+/).filter(Boolean);
    var maxFile = parseInt(input.dataset.maxFileBytes || "0", 10);
    var maxTotal = parseInt(input.dataset.maxTotalBytes || "0", 10);
    var problems = [];
    var total = 0;
    Array.prototype.forEach.call(input.files || [], function (file) {
      var ext = (file.name.split(".").pop() || "").toLowerCase();
      total += file.size;
      if (allowed.length && (file.name.indexOf(".") < 0 || allowed.indexOf(ext) < 0)) {
        problems.push(format(input.dataset.msgType, { name: file.name }));
      } else if (file.size === 0) {
        problems.push(format(input.dataset.msgEmpty, { name: file.name }));
      } else if (maxFile && file.size > maxFile) {
        problems.push(format(input.dataset.msgSize, { name: file.name, size: size(file.size), max: megabytes(maxFile) }));
      }
    });
    if (maxTotal && total > maxTotal) {
      problems.push(format(input.dataset.msgTotal, { size: size(total), max: megabytes(maxTotal) }));
    }
    return problems;
  }

  function showFiles(input) {
    var list = ensureAfter(input, input.id + "-chosen", "chosen-files");
    var names = Array.prototype.map.call(input.files || [], function (file) {
      return file.name + " (" + size(file.size) + ")";
    });
    list.textContent = names.length ? format(input.dataset.msgChosen, { files: names.join(", ") }) : "";
    var problems = fileProblems(input);
    var box = ensureAfter(list, input.id + "-client-error", "error");
    box.setAttribute("role", "alert");
    box.textContent = problems.join(" ");
    box.hidden = !problems.length;
    describe(input, box.id);
    if (problems.length) {
      input.setAttribute("aria-invalid", "true");
    } else if (!input.closest(".has-error")) {
      input.removeAttribute("aria-invalid");
    }
    return problems;
  }

  function fileChecks(root) {
    root.querySelectorAll("input[type=file][data-max-file-bytes]").forEach(function (input) {
      input.addEventListener("change", function () { showFiles(input); });
      if (input.files && input.files.length) {
        showFiles(input);
      }
    });
  }

  function focusSummary(root) {
    var summary = root.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
  }

  function setBusy(form, busy) {
    form.setAttribute("aria-busy", busy ? "true" : "false");
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = busy;
      if (busy) {
        button.dataset.label = button.dataset.label || button.textContent;
        button.textContent = messages(form).msgSending || button.textContent;
      } else if (button.dataset.label) {
        button.textContent = button.dataset.label;
      }
    });
  }

  function progressBar(form) {
    var box = form.querySelector(".upload-progress");
    if (!box) {
      box = document.createElement("div");
      box.className = "upload-progress";
      box.setAttribute("role", "status");
      box.innerHTML = '<progress max="100" value="0"></progress> <span class="upload-progress-text"></span>';
      var submit = form.querySelector("button[type=submit]");
      (submit || form.lastElementChild).insertAdjacentElement("beforebegin", box);
      box.querySelector("progress").setAttribute("aria-label", messages(form).msgUploading || "");
    }
    box.hidden = false;
    return box;
  }

  // The server's answer to a refused submission, put in place of this page's content; the file inputs the
  // person already filled are moved into the new form, so their files stay chosen.
  function replaceContent(html, oldForm) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var newMain = doc.querySelector("main");
    var main = document.querySelector("main");
    if (!newMain || !main) {
      return false;
    }
    var kept = {};
    if (oldForm) {
      oldForm.querySelectorAll("input[type=file]").forEach(function (input) {
        if (input.files && input.files.length) {
          kept[input.name] = input;
        }
      });
    }
    document.title = doc.title;
    main.innerHTML = newMain.innerHTML;
    var keptAny = false;
    Object.keys(kept).forEach(function (name) {
      var fresh = main.querySelector('input[type=file][name="' + name + '"]');
      if (fresh) {
        var old = kept[name];
        old.setAttribute("aria-describedby", fresh.getAttribute("aria-describedby") || "");
        if (fresh.getAttribute("aria-invalid")) {
          old.setAttribute("aria-invalid", fresh.getAttribute("aria-invalid"));
        }
        fresh.replaceWith(old);
        keptAny = true;
      }
    });
    main.querySelectorAll("[data-files-kept]").forEach(function (note) {
      if (keptAny) {
        note.textContent = note.dataset.filesKept;
      }
    });
    enhance(main);
    focusSummary(main);
    return true;
  }

  function sendInBackground(form, event) {
    if (!window.XMLHttpRequest || !window.FormData || !window.DOMParser) {
      return; // an old browser posts the form itself
    }
    event.preventDefault();
    var request = new XMLHttpRequest();
    var box = progressBar(form);
    var bar = box.querySelector("progress");
    var text = box.querySelector(".upload-progress-text");
    request.open(form.method || "POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var pct = Math.round((100 * e.loaded) / e.total);
        bar.value = pct;
        text.textContent = format(messages(form).msgProgress, { pct: pct + "%" });
      }
    });
    request.addEventListener("load", function () {
      var sentTo = new URL(form.action, window.location.href).pathname;
      var landed = request.responseURL ? new URL(request.responseURL).pathname : sentTo;
      if (request.status < 400 && landed !== sentTo) {
        // Filed: the page the server sent us on to (the receipt, or the case page with "已收到 N 份材料"). Its
        // one-time message was spent by this very answer, so show the answer rather than load the page again.
        window.history.replaceState(null, "", request.responseURL);
        if (replaceContent(request.responseText, null)) {
          window.scrollTo(0, 0);
          document.querySelector("main").focus();
        } else {
          window.location.assign(request.responseURL);
        }
        return;
      }
      if (!replaceContent(request.responseText, form)) {
        setBusy(form, false);
      }
    });
    request.addEventListener("error", function () {
      setBusy(form, false);
      box.hidden = false;
      text.textContent = messages(form).msgNetwork || "";
    });
    request.send(new FormData(form));
  }

  function chosenFiles(form) {
    return Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (input) {
      return input.files && input.files.length > 0;
    });
  }

  function submitOnce(root) {
    root.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("aria-busy") === "true") {
          event.preventDefault(); // a second click while the first is on its way
          return;
        }
        var bad = null;
        form.querySelectorAll("input[type=file][data-max-file-bytes]").forEach(function (input) {
          if (!bad && showFiles(input).length) {
            bad = input;
          }
        });
        if (bad) {
          event.preventDefault();
          bad.focus();
          return;
        }
        setBusy(form, true);
        if (form.hasAttribute("data-background") && chosenFiles(form)) {
          sendInBackground(form, event); // with progress, and the files kept if the server refuses the form
        }
      });
    });
  }

  function printButtons(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  function enhance(root) {
    counters(root);
    drafts(root);
    fileChecks(root);
    submitOnce(root);
    printButtons(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    focusSummary(document);
  });
  // Back to a page kept in the browser's cache: its form may be sent again (the server shows the first receipt).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-submit-once]").forEach(function (form) { setBusy(form, false); });
    }
  });
})();
