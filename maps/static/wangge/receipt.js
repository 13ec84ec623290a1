// 回执页：打印按钮（脚本外置，页面无内联脚本）
document.getElementById("print").addEventListener("click", () => window.print());
