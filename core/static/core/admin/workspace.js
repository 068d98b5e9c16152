// A list column whose cells all hold an amount or a count (right-aligned by .num) gets its header right-aligned
// too, over the figures it names. Without JavaScript the header simply stays on the left.
document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("result_list");
  if (!table || !table.tHead || !table.tBodies.length) return;
  const rows = Array.from(table.tBodies[0].rows);
  if (!rows.length) return;
  Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
    if (rows.every((row) => row.cells[index] && row.cells[index].querySelector(".num"))) {
      header.classList.add("num-column");
    }
  });
});
