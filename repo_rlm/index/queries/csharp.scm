; Package: the namespace, block or file-scoped (not a symbol: it is the qualified-name prefix)
(namespace_declaration name: (_) @package)
(file_scoped_namespace_declaration name: (_) @package)

; Definitions
(class_declaration name: (identifier) @name (base_list (_) @base)?) @def.class
(struct_declaration name: (identifier) @name (base_list (_) @base)?) @def.struct
(interface_declaration name: (identifier) @name (base_list (_) @base)?) @def.interface
(record_declaration name: (identifier) @name (base_list (_) @base)?) @def.class
(enum_declaration name: (identifier) @name) @def.enum
(delegate_declaration name: (identifier) @name) @def.type
(method_declaration name: (identifier) @name) @def.function
(constructor_declaration name: (identifier) @name) @def.function
(local_function_statement name: (identifier) @name) @def.function
(property_declaration name: (identifier) @name) @def.variable
(field_declaration (modifier) @_const (variable_declaration (variable_declarator name: (identifier) @name))
  (#eq? @_const "const")) @def.constant

; Calls
(invocation_expression function: (_) @callee) @call
(object_creation_expression type: (_) @callee) @call.new

; Imports: `using A.B;` (module A.B), `using X = A.B;` (alias X)
(using_directive !name . [(qualified_name) (identifier)] @import.module) @import
(using_directive name: (identifier) @import.alias [(qualified_name) (identifier)] @import.module) @import

; Bindings
(variable_declaration type: [(identifier) (qualified_name) (generic_name)] @bind.type
  (variable_declarator name: (identifier) @bind.name)) @bind
(variable_declaration (variable_declarator name: (identifier) @bind.name
  (object_creation_expression type: (_) @bind.new))) @bind
(parameter type: [(identifier) (qualified_name) (generic_name)] @bind.type name: (identifier) @bind.name) @bind
(field_declaration (variable_declaration type: [(identifier) (qualified_name) (generic_name)] @bind.type @bind.self
  (variable_declarator name: (identifier) @bind.name))) @bind
(property_declaration type: [(identifier) (qualified_name) (generic_name)] @bind.type @bind.self name: (identifier) @bind.name) @bind
(foreach_statement type: [(identifier) (qualified_name) (generic_name)] @bind.type left: (identifier) @bind.name) @bind
