; Package
(package_header (identifier) @package)

; Definitions
(class_declaration "class" (type_identifier) @name
  (delegation_specifier [(user_type) @base (constructor_invocation (user_type) @base) (explicit_delegation (user_type) @base)])?) @def.class
(class_declaration "interface" (type_identifier) @name
  (delegation_specifier (user_type) @base)?) @def.interface
(object_declaration (type_identifier) @name
  (delegation_specifier [(user_type) @base (constructor_invocation (user_type) @base)])?) @def.object
(function_declaration (simple_identifier) @name) @def.function
(source_file (property_declaration (variable_declaration (simple_identifier) @name)) @def.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; Calls (a call of a class name is a constructor call; the resolver sees that)
(call_expression . [(simple_identifier) (navigation_expression)] @callee) @call

; Imports: `import a.b.C as D` is module a.b.C, name C, alias D; `import a.b.*` name "*"
(import_header (identifier (simple_identifier) @import.name .) @import.module .) @import
(import_header (identifier (simple_identifier) @import.name .) @import.module (import_alias (type_identifier) @import.alias)) @import
(import_header (identifier) @import.module (wildcard_import) @import.name) @import

; Bindings
(property_declaration (variable_declaration (simple_identifier) @bind.name (user_type) @bind.type)) @bind
(property_declaration (variable_declaration (simple_identifier) @bind.name) (call_expression . [(simple_identifier) (navigation_expression)] @bind.call)) @bind
(parameter (simple_identifier) @bind.name (user_type) @bind.type) @bind
(class_parameter (binding_pattern_kind) (simple_identifier) @bind.name @bind.self (user_type) @bind.type) @bind
