interface Props {
  /** The selection the filter names, e.g. "SO1, 2S 2023". */
  label: string;
  onlySelection: boolean;
  onOnlySelectionChange: (only: boolean) => void;
  /** `before` cursors of the pages behind the one shown; empty on the newest page. */
  pages: number[];
  onPagesChange: (pages: number[]) => void;
  /** The cursor of the next older page, if there is one. */
  nextBefore: number | null;
}

/** The stored records' filter and page buttons: newest, previous (newer) and next (older). */
export function Pager({ label, onlySelection, onOnlySelectionChange, pages, onPagesChange, nextBefore }: Props) {
  return (
    <div className="pager wide">
      <label>
        <input type="checkbox" checked={onlySelection} onChange={(e) => onOnlySelectionChange(e.target.checked)} />
        Solo {label}
      </label>
      <button type="button" disabled={pages.length === 0} onClick={() => onPagesChange([])}>Más recientes</button>
      <button type="button" disabled={pages.length === 0} onClick={() => onPagesChange(pages.slice(0, -1))}>Anteriores</button>
      <button type="button" disabled={!nextBefore} onClick={() => nextBefore && onPagesChange([...pages, nextBefore])}>Siguientes</button>
    </div>
  );
}
