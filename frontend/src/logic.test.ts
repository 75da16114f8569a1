import { describe, expect, it } from "vitest";
import { apiUrl } from "./api";
import { runtimeConfig } from "./config";
import { clampYear, connectionLabel, isSelected, passFailSlices, studentBars } from "./logic";

describe("runtime configuration", () => {
  it("defaults to the page's origin", () => {
    expect(runtimeConfig(undefined)).toEqual({ apiOrigin: "", refreshMs: 3000 });
  });
  it("takes the deploy-time origin without a trailing slash", () => {
    expect(runtimeConfig({ apiOrigin: "https://api.example.com/", refreshMs: 5000 })).toEqual({
      apiOrigin: "https://api.example.com",
      refreshMs: 5000,
    });
  });
  it("ignores values of the wrong type or too small", () => {
    expect(runtimeConfig({ apiOrigin: 7, refreshMs: 10 })).toEqual({ apiOrigin: "", refreshMs: 3000 });
  });
});

describe("apiUrl", () => {
  it("leaves out empty parameters", () => {
    expect(apiUrl("", "/api/grades", { curso: "SO1", before: null, year: undefined, semestre: "" })).toBe("/api/grades?curso=SO1");
  });
  it("prefixes the origin", () => {
    expect(apiUrl("https://x", "/api/live")).toBe("https://x/api/live");
  });
});

describe("pass/fail slices", () => {
  it("are empty without grades", () => {
    expect(passFailSlices(null)).toEqual([]);
    expect(passFailSlices({ curso: "SO1", semestre: "2S", year: 2023, passed: 0, failed: 0 })).toEqual([]);
  });
  it("name both sides", () => {
    expect(passFailSlices({ curso: "SO1", semestre: "2S", year: 2023, passed: 3, failed: 1 })).toEqual([
      { name: "Aprobados", value: 3 },
      { name: "Reprobados", value: 1 },
    ]);
  });
});

describe("student bars", () => {
  it("label each student with name and carnet", () => {
    const bars = studentBars({ students: [{ carnet: 9, nombre: "Ana", average: 95.5, grades: 2 }] });
    expect(bars).toEqual([{ label: "Ana (9)", average: 95.5, grades: 2 }]);
  });
});

describe("selection", () => {
  it("matches a count push only for the same course, semester and year", () => {
    const selection = { curso: "SO1", semestre: "2S", year: 2023 } as const;
    expect(isSelected({ curso: "SO1", semestre: "2S", year: 2023 }, selection)).toBe(true);
    expect(isSelected({ curso: "SO1", semestre: "1S", year: 2023 }, selection)).toBe(false);
  });
  it("keeps typed years in range", () => {
    expect(clampYear("2024", 2023)).toBe(2024);
    expect(clampYear("1999", 2023)).toBe(2023);
    expect(clampYear("", 2023)).toBe(2023);
  });
  it("names the connection states", () => {
    expect(connectionLabel("connected")).toBe("En vivo");
    expect(connectionLabel("disconnected")).toBe("Sin conexión");
  });
});
