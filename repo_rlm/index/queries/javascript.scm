; inherits: ecma,jsx
; Definitions
(class_declaration
  name: (identifier) @name
  (class_heritage [(identifier) (member_expression)] @base)?) @def.class
(field_definition
  property: [(property_identifier) (private_property_identifier)] @name
  value: [(arrow_function) (function_expression)]) @def.function

; Bindings: class fields holding an instance (they type `this.x`) or naming a function (an alias)
(field_definition
  property: (property_identifier) @bind.name @bind.self
  value: (new_expression constructor: (_) @bind.new)) @bind
(field_definition
  property: (property_identifier) @bind.name @bind.self
  value: [(identifier) (member_expression)] @bind.alias) @bind
