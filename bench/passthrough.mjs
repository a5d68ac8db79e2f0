// The floor for bench/edge.sh: a Worker that only forwards each request to
// the origin, as cheaply as a Worker can. Keygate's figures are read against it.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
