import type { ReactNode } from "react";

interface Props {
  title: string;
  testId: string;
  loading?: boolean;
  error?: string | null;
  empty?: boolean;
  emptyText?: string;
  wide?: boolean;
  children?: ReactNode;
}

/** A dashboard card with its loading, error and empty states. */
export function Panel({ title, testId, loading, error, empty, emptyText, wide, children }: Props) {
  let body = children;
  if (loading) body = <p className="muted">Cargando…</p>;
  else if (empty) body = <p className="muted">{emptyText ?? "Sin datos todavía."}</p>;
  return (
    <section className={wide ? "panel wide" : "panel"} data-testid={testId} aria-busy={loading}>
      <h2>{title}</h2>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {body}
    </section>
  );
}
