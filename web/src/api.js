// The service's JSON API (the same one every client uses); errors come back as
// {detail, errors: [{path, rule}]} and are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status;
    this.errors = errors;
  }
}

async function call(method, url, body, signal) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, `the server cannot be reached (${err.message})`);
  }
  const type = res.headers.get("content-type") || "";
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`;
    let errors = [];
    if (type.includes("json")) {
      const data = await res.json();
      detail = typeof data.detail === "string" ? data.detail : detail;
      errors = Array.isArray(data.errors) ? data.errors : [];
    }
    throw new ApiError(res.status, detail, errors);
  }
  return type.includes("json") ? res.json() : res.text();
}

export const api = {
  instances: () => call("GET", "/v1/instances"),
  instance: (name) => call("GET", `/v1/instances/${encodeURIComponent(name)}`),
  validate: (doc, signal) => call("POST", "/v1/validate", doc, signal),
  solve: (body, signal) => call("POST", "/v1/solve", body, signal),
  explain: (body, signal) => call("POST", "/v1/explain", body, signal),
  report: (body, signal) => call("POST", "/v1/report", body, signal),
  sweep: (body) => call("POST", "/v1/sweeps", body),
  sweepStatus: (id) => call("GET", `/v1/sweeps/${encodeURIComponent(id)}`),
  sweepCancel: (id) => call("DELETE", `/v1/sweeps/${encodeURIComponent(id)}`),
  sweepCsv: (id) => call("GET", `/v1/sweeps/${encodeURIComponent(id)}/results?format=csv`),
};
