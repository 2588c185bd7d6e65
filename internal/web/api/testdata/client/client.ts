// A client of crieur's API generated from its OpenAPI document: the
// types (schema.d.ts) are written by openapi-typescript from
// /api/v1/openapi.json at test time, and openapi-fetch makes the calls
// with them. internal/e2e's TestGeneratedClient compiles this file with
// tsc against those types and runs it against a real `crieur serve`.
import createClient from "openapi-fetch";
import type { paths } from "./schema.js";

// Node's globals, without @types/node.
declare const process: { env: Record<string, string | undefined>; exit(code: number): never };

const base = process.env.CRIEUR_URL!;
const token = process.env.CRIEUR_TOKEN!;
const api = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });

async function main() {
  const topics = await api.GET("/api/v1/topics");
  const article = await api.POST("/api/v1/articles", {
    body: {
      guid: "wp-1", url: "https://journal.example/a", title: "Le budget adopté", summary: "…",
      topics: ["afrique"], published_at: "2026-12-07T06:30:00Z",
    },
  });
  const alert = await api.POST("/api/v1/alerts", {
    params: { header: { "Idempotency-Key": "client-1" } },
    body: { title: "Élection", body: "Les premiers résultats", url: "https://journal.example/s", topics: ["afrique"], urgency: "high" },
  });
  // @ts-expect-error: the document allows no such urgency, so neither do the types.
  void api.POST("/api/v1/alerts", { body: { title: "x", body: "y", url: "https://journal.example/", urgency: "urgent" } }).catch(() => {});
  const state = await api.GET("/api/v1/alerts/{id}", { params: { path: { id: alert.data!.id } } });
  // An editor's token may not create topics: the error is typed too.
  const refused = await api.POST("/api/v1/topics", { body: { slug: "sport", name: "Sport" } });
  console.log(JSON.stringify({
    topics: topics.data?.map((t) => t.slug),
    article: article.data?.id,
    alert: alert.data?.id,
    state: state.data?.state,
    refused: refused.response.status,
    code: refused.error?.error.code,
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
