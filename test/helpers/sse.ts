/**
 * A small Server-Sent Events reader for tests (fetch + a line parser), so a test can read
 * `GET /api/events` the way a browser's EventSource would.
 */
export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

export interface SseStream {
  events: SseEvent[];
  status: number;
  ended: boolean;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const s: SseStream = { events: [], status: res.status, ended: false, close: () => ac.abort() };
  if (res.status !== 200 || !res.body) {
    s.ended = true;
    return s;
  }
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: SseEvent = { event: 'message', data: undefined };
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) {
            ev.data = JSON.parse(data);
            s.events.push(ev);
          }
        }
      }
    } catch {
      // aborted
    }
    s.ended = true;
  })();
  return s;
}
