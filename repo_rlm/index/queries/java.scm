; Package
(package_declaration [(scoped_identifier) (identifier)] @package)

; Definitions
(class_declaration name: (identifier) @name
  superclass: (superclass (_) @base)?) @def.class
(class_declaration name: (identifier) @name
  interfaces: (super_interfaces (type_list (_) @base))) @def.class
(interface_declaration name: (identifier) @name
  (extends_interfaces (type_list (_) @base))?) @def.interface
(enum_declaration name: (identifier) @name
  interfaces: (super_interfaces (type_list (_) @base))?) @def.enum
(record_declaration name: (identifier) @name
  interfaces: (super_interfaces (type_list (_) @base))?) @def.class
(annotation_type_declaration name: (identifier) @name) @def.interface
(method_declaration name: (identifier) @name) @def.function
(constructor_declaration name: (identifier) @name) @def.function
(compact_constructor_declaration name: (identifier) @name) @def.function
(field_declaration (modifiers "static" "final") declarator: (variable_declarator name: (identifier) @name)) @def.constant

; Calls
(method_invocation) @callee @call
(object_creation_expression type: (_) @callee) @call.new

; Imports: `import a.b.C;` is module a.b, name C; `import a.b.*;` name "*"
(import_declaration (scoped_identifier scope: (_) @import.module name: (identifier) @import.name)) @import
(import_declaration (scoped_identifier) @import.module (asterisk) @import.name) @import

; Bindings
(local_variable_declaration type: (_) @bind.type declarator: (variable_declarator name: (identifier) @bind.name)
  (#not-eq? @bind.type "var")) @bind
(local_variable_declaration declarator: (variable_declarator name: (identifier) @bind.name
  value: (object_creation_expression type: (_) @bind.new))) @bind
(formal_parameter type: (_) @bind.type name: (identifier) @bind.name) @bind
(field_declaration type: (_) @bind.type @bind.self declarator: (variable_declarator name: (identifier) @bind.name)) @bind
(enhanced_for_statement type: (_) @bind.type name: (identifier) @bind.name (#not-eq? @bind.type "var")) @bind
