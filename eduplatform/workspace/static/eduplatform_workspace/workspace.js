// eduplatform workspace: keyboard shortcuts, photo zoom and OCR boxes, transcript <-> audio, formset rows.
// Plain JavaScript, no dependencies, served by the project (the product runs offline).
(function () {
  "use strict";

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  // -- OCR boxes over photos ------------------------------------------------------------------
  function drawBoxes(img) {
    var data = document.getElementById(img.dataset.linesId);
    var svg = img.parentElement.querySelector("svg.ocr-boxes");
    if (!data || !svg || !img.naturalWidth) return;
    var lines = JSON.parse(data.textContent || "[]") || [];
    svg.setAttribute("viewBox", "0 0 " + img.naturalWidth + " " + img.naturalHeight);
    svg.innerHTML = "";
    lines.forEach(function (ln) {
      var p = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
      p.setAttribute("points", ln.box.map(function (xy) { return xy[0] + "," + xy[1]; }).join(" "));
      if ((ln.confidence || 1) < 0.6) p.setAttribute("class", "low");
      var t = document.createElementNS("http://www.w3.org/2000/svg", "title");
      t.textContent = ln.text + " (" + Math.round((ln.confidence || 0) * 100) + "%)";
      p.appendChild(t);
      svg.appendChild(p);
    });
  }
  document.querySelectorAll(".photo-frame img[data-lines-id]").forEach(function (img) {
    if (img.complete) drawBoxes(img); else img.addEventListener("load", function () { drawBoxes(img); });
  });
  document.querySelectorAll(".boxes-toggle").forEach(function (box) {
    box.addEventListener("change", function () {
      document.getElementById(box.dataset.target).classList.toggle("hide-boxes", !box.checked);
    });
  });
  function toggleZoom(btn) {
    var frame = document.getElementById(btn.getAttribute("aria-controls"));
    var on = frame.classList.toggle("zoomed");
    btn.setAttribute("aria-pressed", on ? "true" : "false");
  }
  document.querySelectorAll(".zoom-btn").forEach(function (btn) {
    btn.addEventListener("click", function () { toggleZoom(btn); });
  });

  // -- transcript words seek the recording; the word being played is highlighted --------------------
  document.querySelectorAll(".transcript").forEach(function (tr) {
    var audio = document.getElementById(tr.dataset.audio);
    var words = Array.prototype.slice.call(tr.querySelectorAll(".word"));
    words.forEach(function (w) {
      w.addEventListener("click", function () {
        audio.currentTime = parseFloat(w.dataset.start);
        audio.play();
      });
    });
    audio.addEventListener("timeupdate", function () {
      var t = audio.currentTime;
      words.forEach(function (w) {
        w.classList.toggle("playing", t >= parseFloat(w.dataset.start) && t <= parseFloat(w.dataset.end));
      });
    });
  });

  // -- rubric levels add up into the score ----------------------------------------------------------
  var score = document.getElementById("id_score");
  function rubricTotal() {
    var rows = document.querySelectorAll(".rubric-row");
    if (!rows.length || !score) return;
    var total = 0, any = false;
    rows.forEach(function (row) {
      var chosen = row.querySelector("input[type=radio]:checked");
      var typed = row.querySelector("input.criterion-points");
      if (chosen) { total += parseFloat(chosen.dataset.points || "0"); any = true; }
      else if (typed && typed.value !== "" && !isNaN(parseFloat(typed.value))) { total += parseFloat(typed.value); any = true; }
    });
    if (any) score.value = Math.round(total * 100) / 100;
  }
  document.querySelectorAll(".rubric input[type=radio], .rubric input.criterion-points").forEach(function (r) {
    r.addEventListener("change", rubricTotal);
  });

  // -- buttons that stay on the page after their action (release, withdraw) instead of moving on ------
  document.querySelectorAll("button[data-then]").forEach(function (b) {
    b.addEventListener("click", function () {
      var then = document.getElementById("id_then");
      if (then) then.value = b.dataset.then;
    });
  });

  // -- keyboard shortcuts on the review screen ----------------------------------------------------------
  if (document.body.classList.contains("review-page")) {
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey) return;
      var t = e.target;
      if (t === score && e.key === "Enter") {
        e.preventDefault();
        document.getElementById("save-btn").click();
        return;
      }
      var row = t.closest && t.closest(".rubric-row");
      if (row && /^[1-9]$/.test(e.key)) {
        var levels = row.querySelectorAll("input[type=radio]");
        var pick = levels[parseInt(e.key, 10) - 1];
        if (pick) { pick.checked = true; pick.focus(); rubricTotal(); e.preventDefault(); }
        return;
      }
      if (typing(t) && t.type !== "radio") return;
      if (e.altKey) return;
      if (/^[0-9]$/.test(e.key) && score) {
        score.focus();
        score.value = e.key;
        e.preventDefault();
        return;
      }
      var link;
      switch (e.key) {
        case "a": var acc = document.getElementById("accept-btn"); if (acc) { acc.click(); e.preventDefault(); } break;
        case "r": var rel = document.getElementById("release-btn"); if (rel) { rel.click(); e.preventDefault(); } break;
        case "n": case "j": link = document.getElementById("next-link"); if (link) { window.location = link.href; } break;
        case "p": case "k": link = document.getElementById("prev-link"); if (link) { window.location = link.href; } break;
        case "z": var z = document.querySelector(".zoom-btn"); if (z) { toggleZoom(z); } break;
        case "?": var sc = document.getElementById("shortcuts"); if (sc) { sc.open = !sc.open; } break;
      }
    });
  }

  // -- "add a row" for the authoring formsets -------------------------------------------------------------
  document.querySelectorAll("fieldset[data-formset]").forEach(function (fs) {
    var prefix = fs.dataset.formset;
    var btn = fs.querySelector(".add-row");
    var tpl = fs.querySelector("template");
    if (!btn || !tpl) return;
    btn.addEventListener("click", function () {
      var total = fs.querySelector("input[name=" + prefix + "-TOTAL_FORMS]");
      var n = parseInt(total.value, 10);
      var div = document.createElement("div");
      div.className = "formset-row";
      div.innerHTML = tpl.innerHTML.replace(/__prefix__/g, String(n));
      var field = div.querySelector("textarea, input");
      if (field) field.setAttribute("aria-label", fs.querySelector("legend").firstChild.textContent.trim() + " " + (n + 1));
      fs.insertBefore(div, btn);
      total.value = String(n + 1);
      if (field) field.focus();
    });
  });
})();
