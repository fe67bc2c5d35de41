// OSC 1.0 packets for the WebSocket: what the page sends (messages with
// int, float and string arguments) and what it gets (messages and bundles).
"use strict";

const OSC = (() => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  function pad4(n) {
    return (n + 3) & ~3;
  }

  function str(s) {
    const bytes = enc.encode(s);
    const out = new Uint8Array(pad4(bytes.length + 1));
    out.set(bytes);
    return out;
  }

  // args: [{type: "i"|"f"|"s", value}] or plain values (integers become
  // "i", other numbers "f", strings "s").
  function encode(address, args) {
    const typed = (args || []).map((a) => {
      if (a !== null && typeof a === "object" && "type" in a) return a;
      if (typeof a === "string") return { type: "s", value: a };
      if (typeof a === "boolean") return { type: "i", value: a ? 1 : 0 };
      return { type: Number.isInteger(a) ? "i" : "f", value: a };
    });
    const parts = [str(address), str("," + typed.map((a) => a.type).join(""))];
    for (const a of typed) {
      if (a.type === "s") {
        parts.push(str(a.value));
      } else {
        const b = new Uint8Array(4);
        const v = new DataView(b.buffer);
        if (a.type === "i") v.setInt32(0, a.value);
        else v.setFloat32(0, a.value);
        parts.push(b);
      }
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out.buffer;
  }

  function readStr(view, at) {
    let end = at;
    while (end < view.byteLength && view.getUint8(end) !== 0) end++;
    const s = dec.decode(new Uint8Array(view.buffer, view.byteOffset + at, end - at));
    return [s, pad4(end + 1)];
  }

  function message(view) {
    let [address, at] = readStr(view, 0);
    if (at >= view.byteLength) return { address, args: [] };
    let tags;
    [tags, at] = readStr(view, at);
    const args = [];
    for (const t of tags.slice(1)) {
      switch (t) {
        case "i": args.push(view.getInt32(at)); at += 4; break;
        case "f": args.push(view.getFloat32(at)); at += 4; break;
        case "d": args.push(view.getFloat64(at)); at += 8; break;
        case "h": args.push(Number(view.getBigInt64(at))); at += 8; break;
        case "s": case "S": { let s; [s, at] = readStr(view, at); args.push(s); break; }
        case "b": { const n = view.getInt32(at); at += 4 + pad4(n); args.push(null); break; }
        case "T": args.push(true); break;
        case "F": args.push(false); break;
        case "N": case "I": args.push(null); break;
        default: throw new Error("OSC type " + t + " not understood");
      }
    }
    return { address, args };
  }

  // Every message in a packet, bundles opened (in order).
  function decode(buffer, out = []) {
    const view = buffer instanceof DataView ? buffer : new DataView(buffer);
    if (view.byteLength >= 8 && view.getUint8(0) === 0x23) { // "#bundle"
      let at = 16;
      while (at + 4 <= view.byteLength) {
        const n = view.getInt32(at);
        decode(new DataView(view.buffer, view.byteOffset + at + 4, n), out);
        at += 4 + n;
      }
      return out;
    }
    out.push(message(view));
    return out;
  }

  return { encode, decode };
})();
