// Signing desk: click the page preview to put the signature box there (the numeric inputs work without this).
"use strict";
(function () {
  var image = document.getElementById("preview");
  var marker = document.getElementById("box-marker");
  var inputs = ["x1", "y1", "x2", "y2"].map(function (id) { return document.getElementById(id); });
  if (!image || !marker || inputs.some(function (input) { return !input; })) { return; }
  var pageWidth = parseFloat(image.dataset.pageWidth);
  var pageHeight = parseFloat(image.dataset.pageHeight);

  function values() { return inputs.map(function (input) { return parseFloat(input.value); }); }

  function showMarker() {
    var box = values();
    if (box.some(isNaN) || !image.clientWidth) { marker.hidden = true; return; }
    var scale = image.clientWidth / pageWidth;
    marker.style.left = (box[0] * scale) + "px";
    marker.style.top = ((pageHeight - box[3]) * scale) + "px";
    marker.style.width = ((box[2] - box[0]) * scale) + "px";
    marker.style.height = ((box[3] - box[1]) * scale) + "px";
    marker.hidden = false;
  }

  image.addEventListener("click", function (event) {
    var box = values();
    var width = box[2] - box[0] > 0 ? box[2] - box[0] : 170;
    var height = box[3] - box[1] > 0 ? box[3] - box[1] : 85;
    var rect = image.getBoundingClientRect();
    var x = (event.clientX - rect.left) / rect.width * pageWidth;
    var y = pageHeight - (event.clientY - rect.top) / rect.height * pageHeight;
    var x1 = Math.min(Math.max(x - width / 2, 0), pageWidth - width);
    var y1 = Math.min(Math.max(y - height / 2, 0), pageHeight - height);
    [x1, y1, x1 + width, y1 + height].forEach(function (value, i) { inputs[i].value = value.toFixed(1); });
    var page = document.getElementById("page");
    var shown = document.getElementById("show-page");
    if (page && shown) { page.value = shown.value; }
    showMarker();
  });
  inputs.forEach(function (input) { input.addEventListener("input", showMarker); });
  if (image.complete) { showMarker(); } else { image.addEventListener("load", showMarker); }
  window.addEventListener("resize", showMarker);
})();
