; Definitions. `double Circle::area() {...}` is a method of Circle (the scope is the receiver).
(function_definition declarator: (function_declarator declarator: [(identifier) (field_identifier) (operator_name)] @name)) @def.function
(function_definition declarator: (_ declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))) @def.function
(function_definition declarator: (function_declarator
  declarator: (qualified_identifier scope: (_) @receiver name: [(identifier) (destructor_name) (operator_name)] @name))) @def.function
(function_definition declarator: (_ declarator: (function_declarator
  declarator: (qualified_identifier scope: (_) @receiver name: [(identifier) (operator_name)] @name)))) @def.function
(declaration declarator: (function_declarator declarator: (identifier) @name)) @def.function
(declaration declarator: (_ declarator: (function_declarator declarator: (identifier) @name))) @def.function
(field_declaration declarator: (function_declarator declarator: [(field_identifier) (operator_name)] @name)) @def.function
(field_declaration declarator: (_ declarator: (function_declarator declarator: (field_identifier) @name))) @def.function
(class_specifier name: (type_identifier) @name
  (base_class_clause [(type_identifier) (qualified_identifier) (template_type)] @base)?
  body: (field_declaration_list)) @def.class
(struct_specifier name: (type_identifier) @name
  (base_class_clause [(type_identifier) (qualified_identifier) (template_type)] @base)?
  body: (field_declaration_list)) @def.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @def.struct
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @def.enum
(namespace_definition name: [(namespace_identifier) (nested_namespace_specifier)] @name) @def.namespace
(type_definition declarator: (type_identifier) @name) @def.type
(alias_declaration name: (type_identifier) @name) @def.type
(preproc_def name: (identifier) @name (#match? @name "^[A-Z][A-Z0-9_]*$") (#not-match? @name "_H(PP)?_?$")) @def.constant

; Calls: `f()`, `obj.m()`, `ns::f()`, `new Foo()` and `Foo x(args)` (a constructor call)
(call_expression function: (_) @callee) @call
(new_expression type: (_) @callee) @call.new
(declaration type: [(type_identifier) (qualified_identifier) (template_type)] @callee
  declarator: (init_declarator value: (argument_list))) @call.new

; Imports
(preproc_include path: (string_literal (string_content) @import.module)) @import
(preproc_include path: (system_lib_string) @import.module) @import
(using_declaration "namespace" (_) @import.module) @import

; Bindings
(declaration type: [(type_identifier) (qualified_identifier) (template_type)] @bind.type declarator: (identifier) @bind.name) @bind
(declaration type: [(type_identifier) (qualified_identifier) (template_type)] @bind.type
  declarator: (init_declarator declarator: (identifier) @bind.name)) @bind
(declaration declarator: (init_declarator declarator: (_ declarator: (identifier) @bind.name) value: (new_expression type: (_) @bind.new))) @bind
(parameter_declaration type: [(type_identifier) (qualified_identifier) (template_type)] @bind.type
  declarator: (identifier) @bind.name) @bind
(parameter_declaration type: [(type_identifier) (qualified_identifier) (template_type)] @bind.type
  declarator: [(reference_declarator (identifier) @bind.name) (pointer_declarator declarator: (identifier) @bind.name)]) @bind
