// Runs one widget script (onValue) of a generated Open Stage Control
// session in node, with small stand-ins for the script API the layouts
// use (send, get, set, setInterval, value), and prints what it did, one
// JSON object a line:
//   {"send": ["host:port", "/path", [["i", 9000], ["s", "/chain/*/*"]]], "t": 0}
//   {"set": ["widget id", value]}
//   {"interval": ["id", ms]}
//
//   node open_stage_run.js SCRIPT [VALUE_JSON [WIDGETS_JSON]]
// VALUE_JSON is the widget's `value`; WIDGETS_JSON maps widget ids to what
// `get` returns. A function given to setInterval is run once more, at its
// interval, to show what the renewal sends.
"use strict";
const fs = require("fs");

const [file, valueJson, widgetsJson] = process.argv.slice(2);
const body = fs.readFileSync(file, "utf8");
const value = valueJson === undefined ? 1 : JSON.parse(valueJson);
const widgets = widgetsJson === undefined ? {} : JSON.parse(widgetsJson);
let clock = 0;
const intervals = [];

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const typed = (a) => {
  if (a !== null && typeof a === "object" && "type" in a) return [a.type, a.value];
  if (typeof a === "number") return [Number.isInteger(a) ? "i" : "f", a];
  return ["s", String(a)];
};
const api = {
  send: (target, address, ...args) => {
    print({ send: [target, address, args.map(typed)], t: clock });
  },
  get: (id) => (id in widgets ? widgets[id] : null),
  set: (id, v) => {
    widgets[id] = v;
    print({ set: [id, v] });
  },
  setInterval: (id, fn, ms) => {
    print({ interval: [id, ms] });
    intervals.push([fn, ms]);
  },
  value,
};

let run;
try {
  // Open Stage Control runs a widget script as a function body.
  run = new Function(...Object.keys(api), body);
} catch (e) {
  process.stderr.write(`syntax: ${e.message}\n`);
  process.exit(2);
}
run(...Object.values(api));
for (const [fn, ms] of intervals) {
  clock += ms;
  fn();
}
