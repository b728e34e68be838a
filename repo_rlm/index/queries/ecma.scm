; Shared by javascript, typescript and tsx (`; inherits: ecma`)
; Definitions
(function_declaration name: (identifier) @name) @def.function
(generator_function_declaration name: (identifier) @name) @def.function
(method_definition name: [(property_identifier) (private_property_identifier)] @name) @def.function
; `const requireAuth = (req, res, next) => {...}` is a function named requireAuth
(lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def.function
(variable_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @def.function
(pair key: (property_identifier) @name value: [(arrow_function) (function_expression)]) @def.function
; CommonJS `exports.f = function () {}` / `module.exports.f = () => {}`: a top-level function f
(expression_statement (assignment_expression
  left: (member_expression object: [(identifier) (member_expression)] @_exports property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @def.function
  (#match? @_exports "^(module[.])?exports$"))
; `Foo.prototype.m = function () {}` and `app.m = function () {}` at the top level (express's
; `app.init = function init() {}`): a method m of Foo / app
(program (expression_statement (assignment_expression
  left: (member_expression
    object: (member_expression object: (identifier) @receiver property: (property_identifier) @_proto)
    property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @def.function)
  (#eq? @_proto "prototype"))
(program (expression_statement (assignment_expression
  left: (member_expression object: (identifier) @receiver property: (property_identifier) @name)
  right: [(arrow_function) (function_expression)]) @def.function)
  (#not-match? @receiver "^(exports|module)$"))
; Object literals are namespaces of their function properties (`api.get`): a top-level `const`
; holding one with a property that is or names a function, a property of such a `const` holding one,
; `export default {...}` (named `default`) and `module.exports = {...}` (named `exports`) with a
; method or a `key: value` property (`{ a, b }` alone: the importer reaches `a` as the module's).
; Objects inside functions are not: their properties stay functions of the enclosing scope.
(program [(lexical_declaration (variable_declarator name: (identifier) @name value: (object [(method_definition)
            (pair value: [(arrow_function) (function_expression) (identifier)]) (shorthand_property_identifier)])) @def.object)
          (variable_declaration (variable_declarator name: (identifier) @name value: (object [(method_definition)
            (pair value: [(arrow_function) (function_expression) (identifier)]) (shorthand_property_identifier)])) @def.object)
          (export_statement (lexical_declaration (variable_declarator name: (identifier) @name value: (object [(method_definition)
            (pair value: [(arrow_function) (function_expression) (identifier)]) (shorthand_property_identifier)])) @def.object))])
(program [(lexical_declaration (variable_declarator value: (object (pair key: (property_identifier) @name
            value: (object [(method_definition) (pair value: [(arrow_function) (function_expression)])])) @def.object)))
          (variable_declaration (variable_declarator value: (object (pair key: (property_identifier) @name
            value: (object [(method_definition) (pair value: [(arrow_function) (function_expression)])])) @def.object)))
          (export_statement (lexical_declaration (variable_declarator value: (object (pair key: (property_identifier) @name
            value: (object [(method_definition) (pair value: [(arrow_function) (function_expression)])])) @def.object))))])
(export_statement "default" @name value: (object [(method_definition) (pair)])) @def.object
(expression_statement (assignment_expression
  left: (member_expression object: (identifier) @_module property: (property_identifier) @name)
  right: (object [(method_definition) (pair)])) @def.object
  (#eq? @_module "module") (#eq? @name "exports"))
(program (lexical_declaration
  (variable_declarator name: (identifier) @name
    value: [(number) (string) (template_string) (true) (false) (object) (array)])) @def.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))
(program (export_statement (lexical_declaration
  (variable_declarator name: (identifier) @name
    value: [(number) (string) (template_string) (true) (false) (object) (array)])) @def.constant)
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; Calls
(call_expression function: (_) @callee) @call
(new_expression constructor: (_) @callee) @call.new

; Imports: named `{a as b}`, namespace (name "*"), default (alias only), require(), re-exports
(import_statement (import_clause (named_imports (import_specifier name: (identifier) @import.name alias: (identifier)? @import.alias))) source: (string (string_fragment) @import.module)) @import
(import_statement (import_clause (namespace_import "*" @import.name (identifier) @import.alias)) source: (string (string_fragment) @import.module)) @import
(import_statement (import_clause (identifier) @import.alias) source: (string (string_fragment) @import.module)) @import
(import_statement . source: (string (string_fragment) @import.module)) @import
(export_statement (export_clause (export_specifier name: (identifier) @import.name alias: (identifier)? @import.alias)) source: (string (string_fragment) @import.module)) @import
(variable_declarator
  name: (identifier) @import.alias
  value: (call_expression function: (identifier) @_req arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_req "require")) @import
(variable_declarator
  name: (object_pattern [(shorthand_property_identifier_pattern) @import.name
                         (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias)])
  value: (call_expression function: (identifier) @_req arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_req "require")) @import
(expression_statement
  (call_expression function: (identifier) @_req arguments: (arguments . (string (string_fragment) @import.module)))
  (#eq? @_req "require")) @import

; Bindings the resolver uses to type receivers
(variable_declarator name: (identifier) @bind.name value: (new_expression constructor: (_) @bind.new)) @bind
(variable_declarator name: (identifier) @bind.name value: (call_expression function: (_) @bind.call) (#not-eq? @bind.call "require")) @bind
(assignment_expression
  left: (member_expression object: (this) @bind.self property: (property_identifier) @bind.name)
  right: (new_expression constructor: (_) @bind.new)) @bind
; Value flow the resolver follows (JS/TS): `const f = g` / `let f = obj.m` (an alias); `this.f = g`
; (an alias attribute of the class); a property naming a function in an object that is a definition
; above (`{ del, put: remove }`: an alias attribute of the object; `@bind` is the object, as
; tree-sitter keeps at most three captures per node)
(variable_declarator name: (identifier) @bind.name value: [(identifier) (member_expression)] @bind.alias) @bind
(assignment_expression
  left: (member_expression object: (this) @bind.self property: (property_identifier) @bind.name)
  right: [(identifier) (member_expression)] @bind.alias) @bind
(program [(lexical_declaration (variable_declarator value: (object [
            (shorthand_property_identifier) @bind.name @bind.alias @bind.self
            (pair key: (property_identifier) @bind.name @bind.self value: (identifier) @bind.alias)]) @bind))
          (variable_declaration (variable_declarator value: (object [
            (shorthand_property_identifier) @bind.name @bind.alias @bind.self
            (pair key: (property_identifier) @bind.name @bind.self value: (identifier) @bind.alias)]) @bind))
          (export_statement (lexical_declaration (variable_declarator value: (object [
            (shorthand_property_identifier) @bind.name @bind.alias @bind.self
            (pair key: (property_identifier) @bind.name @bind.self value: (identifier) @bind.alias)]) @bind)))])
(export_statement "default" value: (object [
  (shorthand_property_identifier) @bind.name @bind.alias @bind.self
  (pair key: (property_identifier) @bind.name @bind.self value: (identifier) @bind.alias)]) @bind)
(assignment_expression
  left: (member_expression object: (identifier) @_module property: (property_identifier) @_exports)
  right: (object [
    (shorthand_property_identifier) @bind.name @bind.alias @bind.self
    (pair key: (property_identifier) @bind.name @bind.self value: (identifier) @bind.alias)]) @bind
  (#eq? @_module "module") (#eq? @_exports "exports"))
; The arguments of a call naming something (`run(handler, 1)`, `el.on('x', this.cb)`, `new Foo(fn)`),
; at most 240 characters: name = the argument list as written, value = the callee. The resolver
; binds callback parameters from them and ties `arr.map(fn)`, `setTimeout(fn)`, `p.then(fn)` to `fn`.
(call_expression function: (_) @bind.alias
  arguments: (arguments [(identifier) (member_expression object: (this))]) @bind.name
  (#match? @bind.name "^[(][\\s\\S]{0,240}[)]$")) @bind
(new_expression constructor: [(identifier) (member_expression)] @bind.alias
  arguments: (arguments [(identifier) (member_expression object: (this))]) @bind.name
  (#match? @bind.name "^[(][\\s\\S]{0,240}[)]$")) @bind
