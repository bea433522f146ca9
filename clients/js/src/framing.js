// Message framing: NDJSON or LSP Content-Length (docs/promises.md §3). Decoding detects the framing from
// the first bytes of the stream, as the kernel does.

const CL = 'content-length';

export function encode(msg, framing) {
  const body = typeof msg === 'string' ? msg : JSON.stringify(msg);
  if (framing === 'lsp' || framing === 'content-length') {
    return `Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
  }
  return body + '\n';
}

export class FrameDecoder {
  /**
   * @param {(msg:any)=>void} onMessage
   * @param {(err:Error, raw:string)=>void} onError  an undecodable frame (the stream goes on)
   * @param {'ndjson'|'lsp'|null} framing  null: detect from the first bytes
   */
  constructor(onMessage, onError, framing = null) {
    this.onMessage = onMessage;
    this.onError = onError;
    this.framing = framing === 'content-length' ? 'lsp' : framing;
    this.buf = Buffer.alloc(0);
  }

  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (!this.framing && !this._detect()) return;
      const more = this.framing === 'lsp' ? this._lsp() : this._ndjson();
      if (!more) return;
    }
  }

  _detect() {
    let i = 0;
    while (i < this.buf.length && (this.buf[i] === 0x20 || this.buf[i] === 0x0a || this.buf[i] === 0x0d || this.buf[i] === 0x09)) i++;
    if (i === this.buf.length) return false;
    const head = this.buf.subarray(i, i + CL.length).toString('latin1').toLowerCase();
    if (CL.startsWith(head) && head.length < CL.length) return false; // need more bytes
    this.framing = head === CL ? 'lsp' : 'ndjson';
    return true;
  }

  _emit(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      this.onError(e, text);
      return;
    }
    this.onMessage(msg);
  }

  _ndjson() {
    const nl = this.buf.indexOf(0x0a);
    if (nl < 0) return false;
    const line = this.buf.subarray(0, nl).toString('utf8').trim();
    this.buf = this.buf.subarray(nl + 1);
    if (line) this._emit(line);
    return true;
  }

  _lsp() {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const headers = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    let len = -1;
    for (const h of headers) {
      const m = /^\s*content-length\s*:\s*(\d+)\s*$/i.exec(h);
      if (m) len = Number(m[1]);
    }
    if (len < 0) {
      this.buf = this.buf.subarray(end + 4);
      this.onError(new Error('frame without Content-Length'), headers.join('\n'));
      return true;
    }
    if (this.buf.length < end + 4 + len) return false;
    const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
    this.buf = this.buf.subarray(end + 4 + len);
    this._emit(body);
    return true;
  }
}
