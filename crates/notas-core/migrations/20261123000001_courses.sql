-- The courses the brief monitors. Kept in a table so grades can reference them and the
-- dashboard can show their names; the same five codes are `notas_core::grade::Course`
-- (a test checks the two agree).
CREATE TABLE courses (
    code VARCHAR(8)   NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT INTO courses (code, name) VALUES
    ('SO1',  'Sistemas Operativos 1'),
    ('BD1',  'Sistemas de Bases de Datos 1'),
    ('LFP',  'Lenguajes Formales y de Programación'),
    ('SA',   'Software Avanzado'),
    ('AYD1', 'Análisis y Diseño 1');
