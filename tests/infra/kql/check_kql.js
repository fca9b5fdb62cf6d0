// Parses and analyses KQL queries with Microsoft's Kusto language service (@kusto/language-service-next), offline,
// against a schema given as data. tests/infra/test_kql.py runs it; nothing deployed uses it.
//
// stdin:  {"database": "name", "tables": {"traces": {"timestamp": "datetime", ...}, ...},
//          "queries": [{"name": "...", "text": "..."}]}
// stdout: {"results": [{"name": "...", "diagnostics": [{"code", "severity", "message", "start", "length"}]}]}
// Exit 0 when it ran (whatever the diagnostics), 2 on bad input.
"use strict";

const fs = require("fs");
const path = require("path");

function loadKustoLanguage() {
    const dir = path.dirname(require.resolve("@kusto/language-service-next/package.json"));
    // The package is Bridge.NET output: bridge.js is its runtime and must be the global `Bridge` first.
    global.Bridge = require(path.join(dir, "bridge.js"));
    require(path.join(dir, "Kusto.Language.Bridge.js"));
    return global.Kusto.Language;
}

function tableSchema(columns) {
    return "(" + Object.entries(columns).map(([name, type]) => `['${name}']:${type}`).join(", ") + ")";
}

function globalsFor(K, database, tables) {
    const S = K.Symbols;
    const symbols = Object.entries(tables).map(([name, columns]) => S.TableSymbol.From(tableSchema(columns)).WithName(name));
    const db = new S.DatabaseSymbol.ctor(database, symbols);
    const cluster = new S.ClusterSymbol.$ctor1("offline", [db], false);
    return K.GlobalState.Default.WithCluster(cluster).WithDatabase(db);
}

function diagnose(K, globals, text) {
    const found = K.KustoCode.ParseAndAnalyze(text, globals).GetDiagnostics();
    const out = [];
    for (let i = 0; i < found.Count; i++) {
        const d = found.getItem(i);
        out.push({ code: d.Code, severity: d.Severity, message: d.Message, start: d.Start, length: d.Length });
    }
    return out;
}

function main() {
    let request;
    try {
        request = JSON.parse(fs.readFileSync(0, "utf8"));
        if (typeof request.database !== "string" || typeof request.tables !== "object" || !Array.isArray(request.queries)) {
            throw new Error("expected {database, tables, queries}");
        }
    } catch (err) {
        process.stderr.write(`check_kql: bad input: ${err.message}\n`);
        process.exit(2);
    }
    const K = loadKustoLanguage();
    const globals = globalsFor(K, request.database, request.tables);
    const results = request.queries.map((q) => ({ name: q.name, diagnostics: diagnose(K, globals, q.text) }));
    process.stdout.write(JSON.stringify({ results }) + "\n");
}

main();
