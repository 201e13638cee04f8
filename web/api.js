// api.js: the JSON API (docs/openapi.yaml) over fetch. The session is an HttpOnly
// cookie; every state-changing request also carries the CSRF token the server gave
// at sign-up, sign-in or /v1/auth/me, as the X-CSRF-Token header.

const state = {csrf: null};

export function setCsrf(token) { state.csrf = token || null; }

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body) {
  const headers = {Accept: 'application/json'};
  const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached. Check the connection and try again.');
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || 'Request failed (HTTP ' + res.status + ').');
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);

// Server-sent events of GET /v1/reports/{id}/stream: onPiece(text) while the report
// is written, onDone(report) once; onError(message) if the stream breaks first.
export function streamReport(id, onPiece, onDone, onError) {
  const es = new EventSource('/v1/reports/' + encodeURIComponent(id) + '/stream');
  let finished = false;
  es.addEventListener('piece', (ev) => {
    try { onPiece(JSON.parse(ev.data).text || ''); } catch (e) { /* a malformed piece is skipped */ }
  });
  es.addEventListener('done', (ev) => {
    finished = true;
    es.close();
    let report = null;
    try { report = JSON.parse(ev.data); } catch (e) { report = null; }
    if (report && report.report) report = report.report;
    onDone(report);
  });
  es.addEventListener('error', () => {
    if (finished) return;
    es.close();
    onError('The report stream was interrupted.');
  });
  return () => es.close();
}
